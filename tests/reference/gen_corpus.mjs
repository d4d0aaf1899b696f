// Writes the corpus of the differential tokenizer test: deterministic
// generated strings (a seeded PRNG, so every run writes the same file) plus
// every GenBiasEval / GenHintEval prompt when data/*.jsonl exist.
//
//   node gen_corpus.mjs --data DIR --out FILE
//
// One JSON line per string: {"text": "...", "source": "generated" | "genbiaseval" | ...}.
//
// Left out on purpose, because the reference (transformers.js, JavaScript
// regexes) and Hugging Face `tokenizers` (Oniguruma regexes) disagree on them
// and `tokenizers` is what models are tokenized with (see README.md here and
// tests/test_tokenizer.c, which checks our behaviour on them):
//   U+0085 (NEL)  — whitespace for \s in Oniguruma and in Rust, not in JavaScript;
//   U+FEFF (BOM)  — whitespace for \s in JavaScript only;
//   U+180E        — whitespace for no one any more, but some PCRE2 versions;
//   U+017F (ſ)    — matches 's' under (?i) in Oniguruma, not in the rewritten JS regex.
import fs from "node:fs";
import path from "node:path";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), [])
);
if (!args.out) {
  console.error("usage: node gen_corpus.mjs --data DIR --out FILE");
  process.exit(2);
}

// mulberry32: a small, well-known seeded PRNG.
let seed = 0x1f7a2c3d;
function rand() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rand() * a.length)];
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));

const words = [
  "the", "nurse", "smiled", "because", "he", "she", "they", "engineer", "doctor", "teacher",
  "pilot", "laughed", "secretary", "was", "tired", "Once", "upon", "a", "time", "there",
  "little", "boy", "girl", "named", "Tom", "Lily", "day", "happy", "programmer", "homemaker",
  "unbelievable", "antidisestablishmentarianism", "tokenization", "HuggingFace", "GPU",
  "McDonald", "iPhone", "eBay", "naïve", "x", "I", "OK", "ok", "Ok", "oK", "USA", "U.S.A.",
  "e.g.", "etc.", "hello", "world", "Hello", "World", "HELLO", "WoRlD", "dog", "cat",
];
const contractions = [
  "it's", "IT'S", "It'S", "we'll", "WE'LL", "we'LL", "they're", "THEY'RE", "I've", "I'VE",
  "he'd", "HE'D", "don't", "DON'T", "can't", "I'm", "I'M", "o'clock", "rock'n'roll", "'s",
  "'LL", "'t", "'re", "'ve", "'m", "'d", "''", "y'all", "John's", "JOHN'S", "students'",
];
const punct = [
  ".", ",", "!", "?", ";", ":", "...", "—", "–", "-", "(", ")", "[", "]", "{", "}", "\"",
  "'", "`", "«", "»", "“", "”", "‘", "’", "/", "\\", "@", "#", "$", "%", "^", "&", "*",
  "+", "=", "<", ">", "|", "~", "_", "!?", "?!", "...?", "--", "->", "=>", "::", "!=",
];
const latin = [
  "café", "naïve", "résumé", "Ångström", "façade", "Œuvre", "crème brûlée", "Zürich",
  "São Paulo", "Dvořák", "Łódź", "Ærøskøbing", "straße", "STRASSE", "mañana", "Ça", "ÉCOLE",
  "smörgåsbord", "Þórr", "İstanbul", "ﬁancé",
];
// Decomposed (NFD) forms: Qwen's NFC normalizer must recompose them.
const decomposed = ["cafe\u0301", "nai\u0308ve", "A\u030angstro\u0308m", "e\u0301\u0300", "n\u0303", "o\u0308\u0304"];
const greek = ["Καλημέρα", "κόσμε", "ΑΒΓΔ", "λόγος", "Ἀθῆναι", "ψυχή"];
const cyrillic = ["Привет", "мир", "ПРИВЕТ", "Ёлка", "съешь", "Україна", "Љубљана"];
const cjk = ["你好", "世界", "中文分词", "日本語", "ひらがな", "カタカナ", "한국어", "안녕하세요", "漢字かな交じり文", "東京タワー", "。", "、", "！", "（括弧）"];
const arabic = ["مرحبا", "العالم", "السلام عليكم", "١٢٣", "שלום", "नमस्ते", "สวัสดี", "Xin chào"];
const emoji = [
  "👍", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇫🇷", "🇯🇵", "1️⃣", "👩🏿‍💻", "🧑‍🚀", "😀😃😄",
  "🙂", "✨", "🤷‍♀️", "©", "®", "™", "∑", "∞", "√", "≠", "°C", "½", "²", "€", "£", "¥", "₹",
];
const spaces = [
  " ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r", " \n", "\n ", " \t ",
  "\u00a0", "\u202f", "\u2009", "\u3000", "\u2003", "\u200b", "\u200c", "\u200d", "\u2060",
  "\u2028", "\u000b", "\u000c",
];
const digits = () => String(int(0, 9999999)).slice(0, int(1, 7));
const specials = ["<s>", "</s>", "<unk>", "<|endoftext|>", "<|begin_of_text|>", "<|eot_id|>", "<|im_start|>", "<|im_end|>", "<think>"];
const oddities = ["▁", "Ġ", "Ċ", "<0x41>", "<0xE2>", "\u0001", "\u007f", "\u0000x", "a\u0301", "ß", "ǅ", "ﬀ", "Ⅻ", "①", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𠜎"];

const atoms = [
  () => pick(words), () => pick(words), () => pick(words), () => pick(contractions),
  () => pick(punct), () => digits(), () => pick(latin), () => pick(decomposed),
  () => pick(greek), () => pick(cyrillic), () => pick(cjk), () => pick(arabic),
  () => pick(emoji), () => pick(spaces), () => pick(specials), () => pick(oddities),
];

function sentence() {
  const n = int(3, 14);
  let s = "";
  for (let i = 0; i < n; i++) {
    const w = pick(words);
    s += (i ? " " : "") + (rand() < 0.15 ? w.toUpperCase() : rand() < 0.2 ? w[0].toUpperCase() + w.slice(1) : w);
    if (rand() < 0.15) s += pick([",", ";", ":", " -", "'s", "'LL"]);
  }
  return s + pick([".", "!", "?", "", "...", " .", ".\n"]);
}

function mix(n) {
  let s = "";
  for (let i = 0; i < n; i++) {
    s += atoms[Math.floor(rand() * atoms.length)]();
    const r = rand();
    if (r < 0.45) s += " ";
    else if (r < 0.55) s += pick(spaces);
  }
  return s;
}

const out = [];
const add = (text, source = "generated") => out.push({ text, source });

// Fixed cases first: the edges.
for (const t of ["", " ", "  ", "\n", "\t", "a", "A", " a", "a ", "a  ", "  a", "0", "1234567",
  "12345678901234", "Hello world", " Hello world", "Hello  world", "Hello world ", "Hello world  ",
  "hello\tworld", "line1\nline2", "line1\r\nline2\r\n", "\n\nparagraph\n\n", "it's", "I'LL",
  "The nurse smiled because he", "The nurse smiled because she",
  "Once upon a time, there was a little boy named Tom. One day,"]) add(t);
for (const list of [words, contractions, punct, latin, decomposed, greek, cyrillic, cjk, arabic, emoji, spaces, specials, oddities]) {
  for (const t of list) {
    add(t);
    add(" " + t);
    add("x" + t + "y");
  }
}
for (let i = 1; i <= 7; i++) {
  const d = "9876543".slice(0, i);
  add(d);
  add("abc" + d);
  add(d + "abc");
  add("a " + d + " b");
  add(d + "." + d);
}
for (const sp of spaces) {
  add("word" + sp);
  add(sp + "word");
  add("a" + sp + sp + "b");
}
for (const sp of specials) {
  add("Hello " + sp + " world");
  add(sp + "Hello");
  add("Hello" + sp);
  add(sp + sp);
  add(" " + sp + " ");
}
// Sentences and random mixtures.
for (let i = 0; i < 500; i++) add(sentence());
for (let i = 0; i < 1300; i++) add(mix(int(1, 12)));
// A few long strings (long words and long whitespace runs exercise the BPE queue).
for (let i = 0; i < 12; i++) add(mix(int(150, 400)));
add("a".repeat(3000));
add(" ".repeat(500) + "x");
add("ab".repeat(1000));
add("1234567890".repeat(50));
add("🙂".repeat(200));
add("Supercalifragilisticexpialidocious".repeat(20));

// The datasets' prompts, when they exist.
const dataDir = args.data;
for (const name of ["genbiaseval", "genhinteval"]) {
  const file = dataDir ? path.join(dataDir, name + ".jsonl") : null;
  if (!file || !fs.existsSync(file)) {
    console.error(`gen_corpus: ${file ?? name + ".jsonl"} is absent; its prompts are not in the corpus`);
    continue;
  }
  let n = 0;
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const rec = JSON.parse(line);
    if (typeof rec.prompt === "string") {
      add(rec.prompt, name);
      n++;
    }
  }
  console.error(`gen_corpus: ${n} prompts from ${file}`);
}

const forbidden = /[\u0085\ufeff\u180e\u017f]/;
const kept = out.filter((r) => !forbidden.test(r.text));
fs.writeFileSync(args.out, kept.map((r) => JSON.stringify(r)).join("\n") + "\n");
console.error(`gen_corpus: wrote ${kept.length} strings to ${args.out}`);
