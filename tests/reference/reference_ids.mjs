// Encodes every string of the corpus with the reference implementation,
// @lenml/tokenizers (a tokenizer-only fork of transformers.js), for each
// tokenizer fixture, and writes the ids as JSON lines:
//
//   node reference_ids.mjs --shared DIR --corpus FILE --out DIR
//
// writes DIR/<name>.jsonl with one {"ids": [...], "ids_plain": [...]} per
// corpus line: ids with the special tokens of the post-processor
// (add_special_tokens: true, the default of `encode`), ids_plain without.
import fs from "node:fs";
import path from "node:path";
import { TokenizerLoader } from "@lenml/tokenizers";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), [])
);
if (!args.shared || !args.corpus || !args.out) {
  console.error("usage: node reference_ids.mjs --shared DIR --corpus FILE --out DIR");
  process.exit(2);
}

export const FIXTURES = {
  mistral: "tokenizers/mistral",
  llama3: "tokenizers/llama3",
  qwen3: "tokenizers/qwen3",
  gpt2: "tokenizers/gpt2",
  stories260k: "models/stories260k",
};

const corpus = fs
  .readFileSync(args.corpus, "utf8")
  .split("\n")
  .filter((l) => l.length > 0)
  .map((l) => JSON.parse(l).text);

// transformers.js warns on stderr about some configs; keep the log readable.
const warn = console.warn;
console.warn = () => {};

for (const [name, rel] of Object.entries(FIXTURES)) {
  const dir = path.join(args.shared, rel);
  const tokenizerJSON = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
  const configFile = path.join(dir, "tokenizer_config.json");
  const tokenizerConfig = fs.existsSync(configFile) ? JSON.parse(fs.readFileSync(configFile, "utf8")) : {};
  const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig });
  const lines = corpus.map((text) => {
    try {
      return JSON.stringify({
        ids: tok.encode(text),
        ids_plain: tok.encode(text, { add_special_tokens: false }),
      });
    } catch (e) {
      return JSON.stringify({ error: String(e) });
    }
  });
  fs.writeFileSync(path.join(args.out, name + ".jsonl"), lines.join("\n") + "\n");
  warn(`reference_ids: ${name}: ${lines.length} strings encoded`);
}
