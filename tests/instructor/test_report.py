"""The grading report: the instructor's Markdown and the learner's HTML say the same things, and
the HTML is a page people read (tables as tables, the seeds folded away at the end)."""

from html.parser import HTMLParser

from autograder.instructor.grading import book, report

ODD_NAME = "01 <script>alert(1)</script> | x"
FAILURE = ("sin_backward failed: sin_backward (hidden check): your gradient disagrees with torch.autograd\n"
           "  case 2: x = [0.5, -1.5]\n  torch.autograd: [0.87758, 0.0707372]\n"
           "  yours:          [-0.87758, -0.0707372]")


def outcomes():
    return {ODD_NAME: {"score": 1.0, "max_score": 3.0, "message": None, "notes": [FAILURE],
                       "verdicts": {"sin_backward": {"passed": False, "message": "...", "seed": 12345},
                                    "pow_backward": {"passed": True, "message": "", "seed": 678}}},
            "02_sin_chain_rule": {"score": 0.0, "max_score": 2.0, "message": "the kernel died in cell 7 | twice",
                                  "notes": []}}


class Page(HTMLParser):
    """What a browser would build: the elements, in order, and the text inside each."""

    def __init__(self, text):
        super().__init__()
        self.tags, self.text, self.open = [], [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.open.append(tag)

    def handle_endtag(self, tag):
        self.open.remove(tag)

    def handle_data(self, data):
        self.text.append((tuple(self.open), data))

    def inside(self, tag):
        return " ".join(data for where, data in self.text if tag in where)


def test_the_markdown_keeps_its_table_and_lines():
    data = report.build("ada", "autodiff", outcomes(), ["a note for the whole run"], "bubblewrap: no network")
    lines = report.as_markdown(data).splitlines()
    assert lines[0] == "# Grading report: autodiff, ada"
    rows = [line for line in lines if line.startswith("| ") and "---" not in line]
    assert all(line.replace("\\|", "").count("|") == 4 for line in rows), rows  # a pipe in a name stays in its cell
    assert "Total: 1 / 5" in lines and "Sandbox: bubblewrap: no network." in lines
    assert "- a note for the whole run" in lines and f"- {FAILURE.splitlines()[0]}" in lines
    assert lines[-1].startswith("Hidden-check seeds") and "pow_backward 678, sin_backward 12345" in lines[-1]


def test_the_html_is_tables_and_lists_with_the_seeds_folded_at_the_end():
    html = report.as_html(report.build("ada", "autodiff", outcomes(), [], "bubblewrap: no network"))
    page = Page(html)
    assert "|---|" not in html and "<script>" not in html, "no Markdown table, and learner text escaped"
    assert ODD_NAME in page.inside("td"), "the odd file name is shown as text in its cell"
    assert page.tags.count("tr") == 1 + 2 + 1 + 2  # head, two notebooks, total; two seeds
    assert "torch.autograd: [0.87758" in page.inside("pre"), "a failure's detail keeps its layout"
    assert "12345" in page.inside("details") and "12345" not in page.inside("ul"), "seeds only in the fold"
    assert page.tags.index("details") > page.tags.index("ul"), "the fold comes after the notes"


def test_with_report_puts_the_html_at_the_top_of_every_notebook_page():
    data = report.build("ada", "autodiff", outcomes(), [], "bubblewrap: no network")
    feedback = {"01.html": b'<html><body><div class="container"><p>notebook</p></div></body></html>',
                "sub/extra.html": b"<html><body>x</body></html>", **report.files(data)}
    shown = book.with_report(feedback)
    assert shown["01.html"].index(b'id="grading-report"') < shown["01.html"].index(b"<p>notebook</p>")
    assert shown["sub/extra.html"] == feedback["sub/extra.html"]
    assert book.with_report({"01.html": feedback["01.html"]}) == {"01.html": feedback["01.html"]}
