"""Fetch ONNX Runtime Web (npm `onnxruntime-web`, MIT) into demo/assets/vendor/onnxruntime-web/.

The page runs the siamese network in the student's browser with it (WebAssembly backend), from
the app's own files: no CDN at run time (classroom networks filter, tests run offline, a Space
serves its own files). The files are committed; run this only to change the pinned version:

    python scripts/fetch_onnxruntime_web.py            # download, verify, write the files
    python scripts/fetch_onnxruntime_web.py --check    # the committed files against MANIFEST.json

Only what the WebAssembly backend needs is kept: `ort.wasm.min.js` (the API, a classic script
defining `ort`), `ort-wasm-simd-threaded.mjs` (the WebAssembly module's loader) and the module
itself, gzipped (`.wasm.gz`, 3.8 MB instead of 14.8 MB; the page inflates it with the
browser's DecompressionStream). MANIFEST.json records the version, the tarball and its npm
integrity, and each file's SHA-256 (the .wasm's before gzip too).
"""
from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

NAME, VERSION = "onnxruntime-web", "1.31.1"
TARBALL = f"https://registry.npmjs.org/{NAME}/-/{NAME}-{VERSION}.tgz"
# `npm view onnxruntime-web@1.31.1 dist.integrity`
INTEGRITY = "sha512-5GeH+bWQ+HxM10z7erGlsWqryrwMbSvm/1tkIsKTT48g0fI19VXVVC435t4t7VsPdSQeS7NmuZPXrQ73k82URw=="
FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs")
WASM = "ort-wasm-simd-threaded.wasm"
OUT = Path(__file__).resolve().parents[1] / "demo" / "assets" / "vendor" / NAME
# The package ships no licence file; its package.json says MIT, and this is onnxruntime's text.
LICENSE = """MIT License

Copyright (c) Microsoft Corporation

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch() -> dict:
    with urllib.request.urlopen(TARBALL, timeout=120) as r:
        tgz = r.read()
    algo, digest = INTEGRITY.split("-", 1)
    if base64.b64encode(hashlib.new(algo, tgz).digest()).decode() != digest:
        raise SystemExit(f"{TARBALL}: integrity mismatch (expected {INTEGRITY})")
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        read = lambda name: tar.extractfile(f"package/dist/{name}").read()  # noqa: E731
        package = json.loads(tar.extractfile("package/package.json").read())
        contents = {name: read(name) for name in FILES}
        wasm = read(WASM)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in contents.items():
        (OUT / name).write_bytes(data)
    packed = gzip.compress(wasm, compresslevel=9, mtime=0)  # mtime 0: the same bytes every time
    (OUT / f"{WASM}.gz").write_bytes(packed)
    (OUT / "LICENSE").write_text(LICENSE)
    manifest = {
        "name": NAME, "version": package["version"], "license": package["license"],
        "tarball": TARBALL, "integrity": INTEGRITY,
        "files": {**{n: {"sha256": sha256(d), "bytes": len(d)} for n, d in contents.items()},
                  f"{WASM}.gz": {"sha256": sha256(packed), "bytes": len(packed),
                                 "gunzipped": {"name": WASM, "sha256": sha256(wasm), "bytes": len(wasm)}}},
    }
    (OUT / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def check(folder: Path = OUT) -> list[str]:
    """Problems with the files in `folder` against its MANIFEST.json ([] when all match)."""
    try:
        manifest = json.loads((folder / "MANIFEST.json").read_text())
    except (OSError, ValueError) as e:
        return [f"MANIFEST.json: {e}"]
    problems = []
    for name, want in manifest["files"].items():
        path = folder / name
        if not path.exists():
            problems.append(f"{name}: missing")
            continue
        data = path.read_bytes()
        if sha256(data) != want["sha256"]:
            problems.append(f"{name}: SHA-256 differs from MANIFEST.json")
        inner = want.get("gunzipped")
        if inner and sha256(gzip.decompress(data)) != inner["sha256"]:
            problems.append(f"{name}: its content differs from {inner['name']}'s SHA-256")
    if not (folder / "LICENSE").exists():
        problems.append("LICENSE: missing")
    return problems


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="verify the committed files, no network")
    a = p.parse_args(argv)
    if a.check:
        problems = check()
        print("\n".join(problems) or f"{OUT}: all files match MANIFEST.json")
        return 1 if problems else 0
    m = fetch()
    total = sum(f["bytes"] for f in m["files"].values())
    print(f"{NAME} {m['version']} -> {OUT} ({total / 1e6:.1f} MB: {', '.join(m['files'])})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
