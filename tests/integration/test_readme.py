"""README.md followed literally where a test can: its two set-up commands,
its Install section's configuration (through `apache2 -t` with the built
module, then a throwaway server answering the section's curl check), its
directive table against the module's command table, and every link of the
README and docs/ pointing at a file and heading that exist."""
import glob
import os
import re
import subprocess
import urllib.parse
import urllib.request

import pytest

from httpd_harness import REPO, Httpd

README = os.path.join(REPO, "README.md")
DOCS = os.path.join(REPO, "docs")
CONFIG_C = os.path.join(REPO, "mod_reqprof", "mod_reqprof_config.c")
SCRIPT = os.path.join(REPO, "build", "install-deps.sh")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def section(text, title):
    """The body of the `## title` section."""
    m = re.search(r"^## %s\n(.*?)(?=^## |\Z)" % re.escape(title), text, re.S | re.M)
    assert m, "README.md has no section '## %s'" % title
    return m.group(1)


def code_lines(block):
    """The commands of an indented code block, comments removed."""
    return [re.sub(r"\s+#.*$", "", l).strip() for l in block.splitlines() if l.startswith("    ")]


def package_set(name):
    out = subprocess.run(["bash", SCRIPT, name, "--list"], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    return set(out.split())


def directives_in_source():
    names = re.findall(r'AP_INIT_[A-Z0-9]+\(\s*"(\w+)"', read(CONFIG_C))
    assert len(names) >= 10, names
    return set(names)


def slug(heading):
    """The anchor a Markdown renderer (GitHub's rule) gives a heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def test_the_first_lines_are_make_demo_and_make_test():
    lines = read(README).splitlines()
    assert lines[0].startswith("# mod_reqprof")
    body = [l for l in lines[1:] if l.strip()]
    assert code_lines("\n".join(body[:2])) == ["make demo", "make test"], body[:3]
    assert not body[2].startswith("    "), "more than two set-up commands"


def test_what_each_command_installs_is_what_it_installs():
    text = read(README)
    demo, test = package_set("demo"), package_set("test")
    bullets = {}
    for cmd in ("make demo", "make test"):
        m = re.search(r"^- `%s` \(`make deps-\w+`\):(.*?)(?=^- |^\S)" % cmd, text, re.S | re.M)
        assert m, "no bullet saying what `%s` installs" % cmd
        bullets[cmd] = set(re.findall(r"`([a-z0-9][a-z0-9.+-]*)`", m.group(1))) & test
    assert bullets["make demo"] == demo, demo ^ bullets["make demo"]
    assert bullets["make test"] | demo == test, test ^ (bullets["make test"] | demo)
    # The Makefile runs exactly those sets.
    for goal, wanted, other in (("demo", "demo", "test"), ("test", "test", "demo")):
        res = subprocess.run(["make", "-n", "-C", REPO, goal], capture_output=True, text=True,
                             timeout=120)
        assert res.returncode == 0, res.stderr
        assert "install-deps.sh %s" % wanted in res.stdout
        assert "install-deps.sh %s" % other not in res.stdout


def test_install_section_steps_in_order():
    steps = code_lines(section(read(README), "Install on Debian"))
    order = ["make install", "a2enmod reqprof", "apache2ctl configtest",
             "systemctl reload apache2", "curl -s 'http://127.0.0.1/", "a2dismod reqprof"]
    at = []
    for step in order:
        found = [i for i, l in enumerate(steps) if l.startswith(step)]
        assert found, "the Install section has no `%s`" % step
        at.append(found[0])
    assert at == sorted(at), list(zip(order, at))


def test_install_snippet_passes_configtest_and_the_curl_check_answers():
    body = section(read(README), "Install on Debian")
    snippets = re.findall(r"```apache\n(.*?)```", body, re.S)
    assert len(snippets) == 1, "one configuration snippet in the Install section"
    snippet = snippets[0]
    assert "ReqProfile On" in snippet
    url = re.search(r"curl -s '(http://127\.0\.0\.1[^']*)'", body).group(1)
    parsed = urllib.parse.urlsplit(url)
    assert "profile=text" in parsed.query

    h = Httpd(extra=snippet)
    try:
        with open(os.path.join(h.docroot, "index.html"), "w") as f:
            f.write("<!DOCTYPE html><title>It works</title>\n")
        rc, out = h.config_test()
        assert rc == 0 and "Syntax OK" in out, out
        h.start()
        with urllib.request.urlopen(h.url + parsed.path + "?" + parsed.query, timeout=30) as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/plain")
            first = r.read().decode().splitlines()[0]
        assert first == "mod_reqprof: GET %s?%s HTTP/1.1" % (parsed.path, parsed.query), first
        # Without the trigger the page itself comes back.
        with urllib.request.urlopen(h.url + parsed.path, timeout=30) as r:
            assert b"It works" in r.read()
        assert h.crash_lines() == []
    finally:
        h.cleanup()


def test_directive_table_and_reference_match_the_command_table():
    source = directives_in_source()
    table = section(read(README), "Directives")
    listed = re.findall(r"^\| \[`(\w+)`\]\(docs/directives\.md#(\w+)\)", table, re.M)
    names = [n for n, _ in listed]
    assert len(names) == len(set(names)), "a directive listed twice"
    assert set(names) == source, "README table vs mod_reqprof_config.c: %s" % (set(names) ^ source)
    for name, anchor in listed:
        assert anchor == slug(name)

    reference = read(os.path.join(DOCS, "directives.md"))
    blocks = re.split(r"^### ", reference, flags=re.M)[1:]
    documented = {}
    for b in blocks:
        name = b.split("\n", 1)[0].strip()
        documented[name] = b
    assert source <= set(documented), source - set(documented)
    assert set(documented) - source == {"The reqprof-index handler"}, set(documented) - source
    for name in source:
        for row in ("Description", "Syntax", "Default", "Context", "Module"):
            assert re.search(r"^\| %s \|" % row, documented[name], re.M), (name, row)
        assert "`%s " % name in documented[name] or "`%s`" % name in documented[name], name


def test_links_in_readme_and_docs_resolve():
    pages = [README] + sorted(glob.glob(os.path.join(DOCS, "*.md")))
    headings = {}
    for p in pages:
        text = re.sub(r"```.*?```", "", read(p), flags=re.S)
        headings[os.path.realpath(p)] = {slug(h) for h in re.findall(r"^#+ (.*)$", text, re.M)}
    bad = []
    for p in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", read(p)):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            full = os.path.realpath(os.path.join(os.path.dirname(p), path)) if path else \
                os.path.realpath(p)
            if not os.path.exists(full):
                bad.append("%s: %s (no such file)" % (os.path.relpath(p, REPO), target))
            elif anchor and anchor not in headings.get(full, set()):
                bad.append("%s: %s (no such heading)" % (os.path.relpath(p, REPO), target))
    assert bad == [], "\n".join(bad)


def test_screenshot_is_small_and_benchmarks_live_in_docs():
    png = os.path.join(DOCS, "report.png")
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(png) < 300 * 1024
    bench = read(os.path.join(DOCS, "benchmarks.md"))
    assert bench.count("<!-- bench:start -->") == 1 and bench.count("<!-- bench:end -->") == 1
    assert bench.index("<!-- bench:start -->") < bench.index("<!-- bench:end -->")
    assert "<!-- bench:" not in read(README)
    assert re.search(r'os\.path\.join\(REPO, "docs", "benchmarks\.md"\)',
                     read(os.path.join(REPO, "bench", "run.py")))


if __name__ == "__main__":
    pytest.main([__file__])
