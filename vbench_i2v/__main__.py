"""`python -m vbench_i2v ...` is the `vbench` command (also what torchrun launches)."""

from vbench_i2v.cli import main

if __name__ == "__main__":
    main()
