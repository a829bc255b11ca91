from ..config import preset_names
from ..configure import load_config


def register(sub):
    p = sub.add_parser("presets", help="list every preset and what it trains")
    p.set_defaults(run=run)


def run(args) -> int:
    names = preset_names()
    width = max(map(len, names))
    for name in names:
        print(f"{name:<{width}}  {load_config(name).description}")
    return 0
