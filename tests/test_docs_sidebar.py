"The docs site's sidebar (nbs/sidebar.yml, kept by hand) lists every notebook once and nothing that is not a page."
from pathlib import Path

import yaml

NBS = Path(__file__).resolve().parents[1] / "nbs"


def entries(contents):
    for e in contents:
        if isinstance(e, dict): yield from entries(e["contents"])
        else: yield e


def test_sidebar_lists_every_page_once_and_only_pages():
    from nbdev.config import get_config
    assert get_config(path=NBS).custom_sidebar, "pyproject.toml: custom_sidebar = true, or nbdev rewrites nbs/sidebar.yml"
    listed = list(entries(yaml.safe_load((NBS / "sidebar.yml").read_text())["website"]["sidebar"]["contents"]))
    assert len(listed) == len(set(listed)), [e for e in listed if listed.count(e) > 1]
    assert all(e.endswith(".ipynb") for e in listed), [e for e in listed if not e.endswith(".ipynb")]  # no llms.txt, styles.css
    assert set(listed) == {p.name for p in NBS.glob("*.ipynb")}
