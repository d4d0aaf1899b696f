#!/usr/bin/python3
"""report.html in a real browser: headless Chromium loads the pages that
`lftf run`, `lftf bias --html` and `lftf general --html` write on stories260k,
renders each to a PNG and dumps the DOM it built.

Checks (the reference is report.json itself, read here with Python's json
and formatted with Python's own "%.4f", and the browser's DOM):
- the page loads without errors (no console errors or failed loads in
  Chromium's log) and is self-contained (no <script>, no http(s) or other
  external reference: it must render with the network off);
- Table 4's AFGB word/phrase/sentence/avg and UB, before and after, every
  epoch's dev AFGB/UB, the general-ability figures and the bias suites'
  figures appear in the DOM as report.json's values;
- the figures are inline SVG (BMI, training curve, professions) and the PNG
  is a real image of the page.

usage: report_html_check.py LFTF_BINARY SHARED_DIR [PNG_OUT]
exit 0 ok, 1 failure, 77 skipped (no chromium, or fixtures absent).
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def browse(browser, html_path, png_path, tmp):
    """(DOM text, Chromium's log) of the page; the PNG is written too."""
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
              "--user-data-dir=" + os.path.join(tmp, "profile"), "--enable-logging=stderr",
              "--v=0", "--window-size=1100,1400"]
    url = "file://" + os.path.abspath(html_path)
    dom = subprocess.run(common + ["--dump-dom", url], capture_output=True, text=True,
                         timeout=180)
    shot = subprocess.run(common + ["--screenshot=" + png_path, url], capture_output=True,
                          text=True, timeout=180)
    check(dom.returncode == 0 and shot.returncode == 0,
          "chromium ran (%d, %d): %s" % (dom.returncode, shot.returncode, dom.stderr[-400:]))
    return dom.stdout, dom.stderr + shot.stderr


def page_errors(log):
    """Console errors and failed loads of the page (Chromium's own D-Bus and
    GPU chatter in a container is not the page's)."""
    bad = []
    for line in log.splitlines():
        if "CONSOLE" in line or "Uncaught" in line or "Failed to load" in line or \
                "ERR_FILE_NOT_FOUND" in line or "net::ERR" in line:
            bad.append(line)
    return bad


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", head[16:24])


def dom_text(dom):
    """The page's visible text, tags removed and entities decoded."""
    import html
    return html.unescape(re.sub(r"<[^>]+>", " ", dom))


def check_page(browser, html_path, tmp, png_out, what):
    with open(html_path) as f:
        source = f.read()
    check("<script" not in source.lower(), "%s: no script" % what)
    check(not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:|//)", source, re.I) and
          "@import" not in source and "url(" not in source,
          "%s: no external reference" % what)
    png = os.path.join(tmp, os.path.basename(html_path) + ".png")
    dom, log = browse(browser, html_path, png, tmp)
    check(not page_errors(log), "%s loads without errors: %r" % (what, page_errors(log)[:3]))
    size = png_size(png) if os.path.exists(png) else None
    check(size is not None and size[0] >= 800 and os.path.getsize(png) > 20000,
          "%s renders to a PNG (%r)" % (what, size))
    if png_out and size:
        shutil.copy(png, png_out)
    return dom


def four(v):
    return "%.4f" % v


def check_run(lftf, model, browser, tmp, png_out):
    out = os.path.join(tmp, "run")
    p = subprocess.run([lftf, "run", "--model", model, "--out", out, "--epochs", "1",
                        "--no-bias-suites", "--quiet"], capture_output=True, text=True)
    check(p.returncode == 0, "lftf run exits 0: " + p.stderr[-500:])
    if p.returncode != 0:
        return
    check(os.path.exists(os.path.join(out, "report.html")), "lftf run writes report.html")
    with open(os.path.join(out, "report.json")) as f:
        report = json.load(f)
    dom = check_page(browser, os.path.join(out, "report.html"), tmp, png_out, "run report")
    text = dom_text(dom)
    table4 = dom_text(re.search(r"<table id=\"table4\".*?</table>", dom, re.S).group(0))
    for side in ("before", "after"):
        afgb = report[side]["genbiaseval"]["afgb"]
        for scale in ("word", "phrase", "sentence", "avg"):
            check(four(afgb[scale]) in table4, "Table 4 shows %s AFGB %s %s" %
                  (side, scale, four(afgb[scale])))
        ub = report[side]["genhinteval"]["ub"]
        check(four(ub) in table4, "Table 4 shows %s UB %s" % (side, four(ub)))
    epochs = [h for h in report["finetune"]["history"] if h["step"] == 0]
    check(len(epochs) == 1, "one epoch in the history")
    for h in epochs:
        check(four(h["dev_afgb"]) in text and four(h["dev_ub"]) in text,
              "epoch %d's dev AFGB/UB in the page" % h["epoch"])
    ppl = report["general"]["before"][0]["word_perplexity"]
    check(four(ppl) in text, "general ability's word perplexity %s in the page" % four(ppl))
    for fig in ("id=\"bmi\"", "id=\"training\"", "id=\"professions\""):
        section = dom.split(fig, 1)[-1]
        check(fig in dom and "<svg" in section.split("<h2", 1)[0],
              "inline SVG figure after %s" % fig)
    check(report["model"] in text, "the settings name the model")


def check_bias_and_general(lftf, model, browser, tmp, data_dir):
    out_json, out_html = os.path.join(tmp, "bias.json"), os.path.join(tmp, "bias.html")
    p = subprocess.run([lftf, "bias", "--model", model, "--suite", "winogender", "--max-items",
                        "5", "--out", out_json, "--html", out_html, "--quiet"],
                       capture_output=True, text=True)
    check(p.returncode == 0, "lftf bias --html exits 0: " + p.stderr[-500:])
    if p.returncode == 0:
        with open(out_json) as f:
            wg = json.load(f)["winogender"]
        text = dom_text(check_page(browser, out_html, tmp, None, "bias report"))
        check(four(wg["gap"]) in text, "Winogender gap %s in the bias page" % four(wg["gap"]))
    out_json, out_html = os.path.join(tmp, "general.json"), os.path.join(tmp, "general.html")
    p = subprocess.run([lftf, "general", "--model", model, "--task", "ppl", "--out", out_json,
                        "--html", out_html, "--quiet"], capture_output=True, text=True)
    check(p.returncode == 0, "lftf general --html exits 0: " + p.stderr[-500:])
    if p.returncode == 0:
        with open(out_json) as f:
            g = json.load(f)
        text = dom_text(check_page(browser, out_html, tmp, None, "general report"))
        check(four(g["bits_per_byte"]) in text, "bits per byte in the general page")


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__)
        return 2
    lftf, shared = sys.argv[1:3]
    png_out = sys.argv[3] if len(sys.argv) == 4 else None
    model = os.path.join(shared, "models", "stories260k")
    browser = chromium()
    if not browser:
        print("SKIP: no chromium (Debian package chromium, scripts/setup.sh)")
        return 77
    if not os.path.isdir(model):
        print("SKIP: %s not found (the ../shared fixtures)" % model)
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        check_run(lftf, model, browser, tmp, png_out)
        check_bias_and_general(lftf, model, browser, tmp, None)
    print("%d failure(s)" % len(failures) if failures else "ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
