"""The GGUF checks run under ctest with Debian's python3; their references
(the gguf package, torch, transformers) live in a venv.  reexec() runs the
script again with the first Python that imports them, or skips (exit 77)."""
import os
import shutil
import subprocess
import sys

FLAG = "LFTF_GGUF_CHECK_REEXEC"


def reexec(modules, env_vars, err, hint):
    """modules: what must import; env_vars: variables naming Pythons to try
    (then the python3 on PATH); err: the ImportError; hint: how to get one."""
    if not os.environ.get(FLAG):
        candidates = [os.environ.get(v) for v in env_vars] + [shutil.which("python3")]
        for exe in candidates:
            # a venv's python links the same binary: compare paths, not targets
            if not exe or os.path.abspath(exe) == os.path.abspath(sys.executable):
                continue
            probe = subprocess.run([exe, "-c", "import " + ", ".join(modules)], capture_output=True)
            if probe.returncode == 0:
                sys.stdout.flush()
                os.execve(exe, [exe] + sys.argv, dict(os.environ, **{FLAG: "1"}))
    print("SKIP: %s not importable by %s (%s), nor by $%s or the python3 on PATH; %s"
          % (", ".join(modules), sys.executable, err, ", $".join(env_vars), hint))
    sys.exit(77)
