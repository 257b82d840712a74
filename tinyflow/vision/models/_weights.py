"""The `weights=` / `pretrained=` arguments of torchvision's builders: tinyflow downloads
nothing, so only `weights=None` builds; trained weights load from a state dict file."""
from __future__ import annotations


def no_weights(builder: str, weights=None, kwargs: dict | None = None) -> None:
    """Refuse trained weights by name (and torchvision's old `pretrained=True`), saying how to
    load them instead; `pretrained=False` is accepted and dropped from `kwargs`."""
    pretrained = (kwargs or {}).pop("pretrained", False)
    if weights is None and not pretrained:
        return
    asked = f"weights={weights!r}" if weights is not None else "pretrained=True"
    raise ValueError(f"{builder}: {asked} needs a download, which tinyflow does not do; build "
                     f"with weights=None and load a saved state dict: "
                     f"model.load_state_dict(torch.load(path))")
