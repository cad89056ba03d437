"""Declared dependencies vs the lock, the extras' error messages, and ``--version``."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import pixseek
from pixseek._extras import EXTRAS, MissingExtraError, optional, require

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def lock() -> dict[str, Version]:
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            spec = list(req.specifier)
            assert len(spec) == 1 and spec[0].operator == "==", f"requirements.txt: {line!r} is not an exact pin"
            assert canonicalize_name(req.name) not in pins, f"requirements.txt: {req.name} pinned twice"
            pins[canonicalize_name(req.name)] = Version(spec[0].version)
    return pins


def declared() -> list[Requirement]:
    reqs = [Requirement(r) for r in PYPROJECT["dependencies"]]
    for extra in PYPROJECT["optional-dependencies"].values():
        reqs += [Requirement(r) for r in extra]
    return [r for r in reqs if canonicalize_name(r.name) != "pixseek"]


def test_every_declared_dependency_is_pinned_within_its_bound():
    pins = lock()
    problems = []
    for req in declared():
        pin = pins.get(canonicalize_name(req.name))
        if pin is None:
            problems.append(f"{req} is not pinned in requirements.txt")
        elif not req.specifier.contains(pin, prereleases=True):
            problems.append(f"{req}: the lock pins {pin}, outside the bound")
        elif not str(req.specifier).startswith("~="):
            problems.append(f"{req}: declare a compatible-release bound (~=)")
    assert not problems, "\n".join(problems)


def test_lock_is_closed_and_is_what_is_installed():
    """Each pinned package is installed at its pin, and what it requires is pinned too (no silent extras)."""
    pins, env = lock(), default_environment()
    problems = []
    for name, pin in pins.items():
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            problems.append(f"{name}=={pin} is pinned but not installed")
            continue
        if Version(Version(dist.version).public) != pin:
            problems.append(f"{name}: installed {dist.version}, pinned {pin}")
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is not None and not req.marker.evaluate({**env, "extra": ""}):
                continue
            dep = canonicalize_name(req.name)
            if dep not in pins and dep not in {"setuptools", "pip"}:  # the venv's own tools
                problems.append(f"{name} requires {req}, which requirements.txt does not pin")
    assert not problems, "\n".join(problems)


def test_extras_in_code_match_pyproject():
    extras = set(PYPROJECT["optional-dependencies"])
    assert set(EXTRAS) == extras - {"test", "all"}
    assert PYPROJECT["optional-dependencies"]["all"] == [f"pixseek[{','.join(EXTRAS)}]"]


def test_require_names_the_extra_to_install():
    assert require("server", "json") is sys.modules["json"]
    with pytest.raises(MissingExtraError) as err:
        require("video", "json", "no_such_module_pixseek", feature="decoding clips")
    assert str(err.value).startswith("decoding clips needs the [video] extra: pip install 'pixseek[video]'")
    assert err.value.missing == "no_such_module_pixseek" and err.value.extra == "video"
    with pytest.raises(ValueError, match="unknown extra"):
        require("nonsense", "json")
    absent = optional("scale", "no_such_module_pixseek")
    with pytest.raises(MissingExtraError, match=r"\[scale\] extra"):
        absent.connect  # noqa: B018 - first use raises


@pytest.mark.parametrize(("blocked", "args", "extra"), [
    ("uvicorn", ["serve", "--db", "{db}"], "server"),
    ("pytorch_metric_learning", ["train", "{tmp}", "--out", "{tmp}/x.model"], "train"),
])
def test_cli_says_which_extra_is_missing(tmp_path, blocked, args, extra):
    """The module is made unimportable the way a venv without it is (sys.modules[name] = None)."""
    db = tmp_path / "lib.db"
    pixseek.open(db).close()
    code = f"import sys; sys.modules[{blocked!r}] = None; from pixseek.cli import main; main()"
    argv = [a.format(db=db, tmp=tmp_path) for a in args]
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"needs the [{extra}] extra: pip install 'pixseek[{extra}]'" in lines[0]


def test_version():
    proc = subprocess.run([sys.executable, "-c", "from pixseek.cli import main; main()", "--version"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"pixseek {pixseek.__version__}"
    assert Version(pixseek.__version__)  # a valid version, which setuptools reads for the wheel


def test_system_promotions_name_existing_tests():
    from conftest import SYSTEM_TESTS

    for name in SYSTEM_TESTS:
        file, test = name.split("::")
        assert f"def {test}(" in (REPO / "tests" / file).read_text(), f"conftest.SYSTEM_TESTS: {name} does not exist"
