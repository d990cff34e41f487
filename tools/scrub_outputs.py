"""Make the saved outputs of notebooks independent of the machine and the run: each temporary folder that a lesson
cell made with `tempfile.mkdtemp()` is shown as `<tmp>`, and a library's own warnings on stderr (they name files in
site-packages, and appear only in the first cell that imports the library) are left out. `make notebooks` runs
this after saving the outputs.

    python tools/scrub_outputs.py nbs/*.ipynb
"""
import json, re, sys, tempfile
from pathlib import Path

TMP = re.compile(re.escape(tempfile.gettempdir().rstrip("/")) + r"/tmp[a-z0-9_]{8}")


def scrub(text:str)->str: return TMP.sub("<tmp>", text)


def scrub_output(o:dict)->dict:
    "One cell output with its text fields scrubbed."
    if "text" in o: o["text"] = [scrub(t) for t in o["text"]] if isinstance(o["text"], list) else scrub(o["text"])
    for k, v in o.get("data", {}).items():
        if k.startswith("text/"): o["data"][k] = [scrub(t) for t in v] if isinstance(v, list) else scrub(v)
    return o


def _library_warning(o:dict)->bool:
    return o.get("name") == "stderr" and "site-packages/" in "".join(o.get("text", ""))


def scrub_notebook(path:Path)->bool:
    "Scrub a notebook in place; True when it changed."
    raw = path.read_text(); nb = json.loads(raw)
    for c in nb["cells"]:
        if c["cell_type"] == "code": c["outputs"] = [scrub_output(o) for o in c.get("outputs", []) if not _library_warning(o)]
    new = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if new != raw and json.loads(new) != json.loads(raw): path.write_text(new); return True
    return False


if __name__ == "__main__":
    changed = [p for p in map(Path, sys.argv[1:]) if scrub_notebook(p)]
    print(f"scrubbed temporary paths in {len(changed)} notebook(s)")
