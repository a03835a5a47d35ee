"""Stand-in for ansible-test's pip bootstrap script (get-pip.py), whose download host is not
reachable from every CI machine. tests/lib/toolchain.sh puts it where ansible-test caches the
real one. It bootstraps pip from the interpreter's own ensurepip, then runs the same pip install
the real script would (pip at the pinned version, plus the packages asked for) from PyPI.
"""
import subprocess
import sys


def main(args):
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"],
                          stdout=subprocess.DEVNULL)
    # get-pip.py's own flags: setuptools and wheel are simply not asked for here
    pip_args = [a for a in args if a not in ("--no-setuptools", "--no-wheel")]
    if not pip_args or pip_args[0] != "install":
        pip_args.insert(0, "install")
    subprocess.check_call([sys.executable, "-m", "pip"] + pip_args)


if __name__ == "__main__":
    main(sys.argv[1:])
