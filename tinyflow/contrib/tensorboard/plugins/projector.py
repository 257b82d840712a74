"""TensorBoard's embedding projector configuration (`projector.ProjectorConfig`,
`visualize_embeddings`): word2vec tutorials end by pointing TensorBoard at their embedding
variable and a labels file. The config is written as TF1 writes it, `projector_config.pbtxt`
in the writer's log folder, in protobuf text format."""
from __future__ import annotations

import dataclasses
import os

from ....io.atomic import atomic_path


@dataclasses.dataclass
class SpriteMetadata:
    image_path: str = ""
    single_image_dim: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class EmbeddingInfo:
    tensor_name: str = ""
    metadata_path: str = ""
    bookmarks_path: str = ""
    tensor_path: str = ""
    tensor_shape: list = dataclasses.field(default_factory=list)
    sprite: SpriteMetadata = dataclasses.field(default_factory=SpriteMetadata)


class _Embeddings(list):
    """The repeated `embeddings` field: `add()` appends a new EmbeddingInfo, as protobuf's."""

    def add(self, **fields) -> EmbeddingInfo:
        self.append(EmbeddingInfo(**fields))
        return self[-1]


@dataclasses.dataclass
class ProjectorConfig:
    model_checkpoint_path: str = ""
    model_checkpoint_dir: str = ""
    embeddings: _Embeddings = dataclasses.field(default_factory=_Embeddings)


def _text_format(message, indent: str = "") -> str:
    """A message in protobuf text format (fields left at their defaults are omitted)."""
    lines = []
    for field in dataclasses.fields(message):
        value = getattr(message, field.name)
        items = value if isinstance(value, list) else [value]
        for item in items:
            if dataclasses.is_dataclass(item):
                body = _text_format(item, indent + "  ")
                if body or isinstance(value, list):
                    lines.append(f"{indent}{field.name} {{\n{body}{indent}}}\n")
            elif item != "":
                text = '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' \
                    if isinstance(item, str) else str(int(item))
                lines.append(f"{indent}{field.name}: {text}\n")
    return "".join(lines)


def visualize_embeddings(summary_writer, config: ProjectorConfig) -> None:
    """Write `config` to `projector_config.pbtxt` in the writer's log folder."""
    if not isinstance(config, ProjectorConfig):
        raise TypeError(f"visualize_embeddings: config must be a projector.ProjectorConfig, "
                        f"not {type(config).__name__}")
    path = os.path.join(summary_writer.get_logdir(), "projector_config.pbtxt")
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write(_text_format(config))
