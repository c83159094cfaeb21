"""Selects the fork provisioner for this environment's own `python3` kernelspec:

    python -m nes_kernel_fork.kernelspec [--check]

The kernelspec keeps ipykernel's argv; only `metadata.kernel_provisioner` is added. Where no
template runs ($NES_FORK_SERVER unset) the provisioner starts kernels exactly as before.
"""

import json
import os
import sys

PROVISIONER = {"provisioner_name": "nes-fork-provisioner", "config": {}}


def spec_file() -> str:
    return os.path.join(sys.prefix, "share", "jupyter", "kernels", "python3", "kernel.json")


def main(argv: "list[str]") -> int:
    path = spec_file()
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    metadata = spec.setdefault("metadata", {})
    if metadata.get("kernel_provisioner") == PROVISIONER:
        return 0
    if "--check" in argv:
        return 1
    metadata["kernel_provisioner"] = PROVISIONER
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=1)
        f.write("\n")
    os.replace(path + ".tmp", path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
