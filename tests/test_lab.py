"""`make lab`: JupyterLab opens a chapter as a notebook (jupytext), its kernel runs in book/ and imports the
repository's packages, and the server shuts down on request."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "book/nonconvergence.md"
TOKEN = "test-token-make-lab"

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(port: int, path: str, method: str = "GET", body: dict | None = None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"token {TOKEN}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    return json.loads(text) if text else None


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """`make lab` on a free port of 127.0.0.1, no browser, its runtime files in a temporary folder."""
    tmp = tmp_path_factory.mktemp("lab")
    port = free_port()
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"), "JUPYTER_DATA_DIR": str(tmp / "data"),
           "IPYTHONDIR": str(tmp / "ipython")}
    env.pop("PYTHONPATH", None)  # make lab must make the repository importable on its own
    flags = f"--no-browser --ServerApp.token={TOKEN} --ServerApp.open_browser=False"
    proc = subprocess.Popen(["make", "-C", str(ROOT), "lab", f"VENV={sys.prefix}", f"LAB_PORT={port}",
                             f"LAB_FLAGS={flags}"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while True:
        try:
            api(port, "/api/status")
            break
        except (urllib.error.URLError, ConnectionError):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"make lab did not serve on port {port}:\n{proc.stdout.read()[-3000:]}")
            time.sleep(0.5)
    yield port, tmp / "runtime", proc
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


def test_chapter_opens_as_a_notebook(lab):
    port, _, _ = lab
    model = api(port, f"/api/contents/{CHAPTER}?type=notebook&content=1")
    assert model["type"] == "notebook"
    cells = model["content"]["cells"]
    assert sum(c["cell_type"] == "code" for c in cells) >= 5
    assert model["content"]["metadata"]["jupytext"]["text_representation"]["format_name"] == "myst"


def test_markdown_files_open_with_the_notebook_view_by_default(lab):
    port, _, _ = lab
    settings = api(port, "/lab/api/settings/@jupyterlab/docmanager-extension:plugin")
    default = settings["schema"]["properties"]["defaultViewers"]["default"]  # the layered default
    assert default["markdown"] == default["myst"] == "Jupytext Notebook"


def test_kernel_runs_in_book_and_imports_the_repository(lab):
    from jupyter_client import BlockingKernelClient

    port, runtime, _ = lab
    session = api(port, "/api/sessions", "POST",
                  {"path": CHAPTER, "type": "notebook", "name": "", "kernel": {"name": "python3"}})
    client = BlockingKernelClient(connection_file=str(runtime / f"kernel-{session['kernel']['id']}.json"))
    client.load_connection_file()
    client.start_channels()
    outputs = []
    try:
        client.wait_for_ready(timeout=60)
        reply = client.execute_interactive("import os, sims.explorables; print(os.getcwd())", timeout=60,
                                           output_hook=lambda msg: outputs.append(msg))
    finally:
        client.stop_channels()
        api(port, f"/api/sessions/{session['id']}", "DELETE")
    assert reply["content"]["status"] == "ok"
    printed = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
    assert Path(printed.strip()) == ROOT / "book"



def test_server_shuts_down_through_its_api(lab):
    port, _, proc = lab
    api(port, "/api/shutdown", "POST")
    assert proc.wait(timeout=60) == 0
