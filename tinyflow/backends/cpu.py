"""`torch.backends.cpu`: the CPU is here; it reports no vector-extension level."""


def get_cpu_capability() -> str:
    return "DEFAULT"
