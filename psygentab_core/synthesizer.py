"""A trained generator ready to sample, save and load (weights plus a JSON description)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from psygentab_core.encoding import TableEncoder
from psygentab_core.errors import ModelFileError
from psygentab_core.model import ConditionalVAE, ModelConfig

WEIGHTS_FILE = "model.pt"
DESCRIPTION_FILE = "model.json"
FORMAT_VERSION = 1


def class_counts(shares: tuple[float, ...], rows: int) -> np.ndarray:
    """Rows per class so that the counts sum to ``rows`` and follow ``shares`` as closely as
    whole numbers allow (largest remainder), so a 5 % class gets its 5 %, not 5 % ± noise."""
    exact = np.asarray(shares, dtype=float) * rows
    counts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: rows - counts.sum()]] += 1
    return counts


def generator_for(encoder: TableEncoder, config: ModelConfig) -> ConditionalVAE:
    """A generator whose heads fit the encoder's layout (freshly initialised)."""
    return ConditionalVAE(
        spans=encoder.spans,
        feature_width=encoder.feature_width,
        condition_width=encoder.target_width,
        config=config,
        blocked_slots=encoder.blocked_slots,
    )


def stratified_conditions(
    encoder: TableEncoder, shares: tuple[float, ...], rows: int, *, generator: torch.Generator
) -> torch.Tensor:
    """Target one-hot rows in exact class shares, shuffled (no columns without a target)."""
    if encoder.target is None:
        return torch.zeros(rows, 0)
    counts = class_counts(shares, rows)
    codes = torch.from_numpy(np.repeat(np.arange(len(counts)), counts))
    codes = codes[torch.randperm(rows, generator=generator)]
    return torch.nn.functional.one_hot(codes, encoder.target_width).float()


@dataclass(frozen=True, slots=True)
class Synthesizer:
    """Encoder, generator weights and class shares: everything needed to sample new rows."""

    encoder: TableEncoder
    model_config: ModelConfig
    weights: dict[str, torch.Tensor]
    class_shares: tuple[float, ...]

    @property
    def privacy_spread(self) -> tuple[float, float, float]:
        """The privacy knobs (latent spread, output noise, level temperature); 1 = no extra
        randomness beyond the fitted distribution."""
        knobs = torch.nn.functional.softplus(self.weights["privacy_knobs"]) + 1.0
        return tuple(float(k) for k in knobs)

    def build_model(self) -> ConditionalVAE:
        """A fresh generator module holding these weights (in eval mode)."""
        config = self.model_config
        if config.dependency_stages > 1 and "dependency" not in self.weights:
            # Saved before the generator drew its columns in stages: all at once, as trained.
            config = replace(config, dependency_stages=1)
        model = generator_for(self.encoder, config)
        model.load_state_dict(self.weights)
        return model.eval()

    def sample_encoded(
        self, rows: int, *, generator: torch.Generator, model: ConditionalVAE | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Hard generated rows in the encoded space: (features, target one-hot)."""
        model = model or self.build_model()
        condition = stratified_conditions(
            self.encoder, self.class_shares, rows, generator=generator
        )
        with torch.no_grad():
            features = model.sample(condition, generator=generator, relaxed=False)
        return features, condition

    def sample(self, rows: int, *, seed: int = 0) -> pd.DataFrame:
        """``rows`` new rows as a table with the original columns, order and value types.

        No privacy filter is applied here; releases go through :func:`psygentab_core.release`.
        """
        if rows < 1:
            raise ValueError(f"rows must be at least 1; got {rows}")
        generator = torch.Generator().manual_seed(seed)
        features, target = self.sample_encoded(rows, generator=generator)
        return self.encoder.decode(features.numpy(), target.numpy())

    def save(self, folder: str | Path) -> None:
        """Write ``model.pt`` (tensors only) and ``model.json`` (everything else)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        torch.save({k: v.detach().cpu() for k, v in self.weights.items()}, folder / WEIGHTS_FILE)
        description = {
            "format_version": FORMAT_VERSION,
            "encoder": self.encoder.to_dict(),
            "model_config": asdict(self.model_config),
            "class_shares": list(self.class_shares),
        }
        (folder / DESCRIPTION_FILE).write_text(json.dumps(description, indent=1))

    @classmethod
    def load(cls, folder: str | Path) -> Synthesizer:
        """Read a saved synthesizer; never unpickles arbitrary objects.

        Raises:
            ModelFileError: if a file is missing, unreadable or does not match the description.
        """
        folder = Path(folder)
        description = _read_description(folder / DESCRIPTION_FILE)
        weights = _read_weights(folder / WEIGHTS_FILE)
        try:
            synthesizer = cls(
                encoder=TableEncoder.from_dict(description["encoder"]),
                model_config=ModelConfig(**description["model_config"]),
                weights=weights,
                class_shares=tuple(float(s) for s in description["class_shares"]),
            )
            synthesizer.build_model()
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise ModelFileError(
                f"The model in {folder} does not match its description ({_first_line(error)}); "
                "the files may have been edited or come from different runs."
            ) from None
        return synthesizer


def _read_description(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ModelFileError(f"No model description at {path}.")
    try:
        description = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelFileError(f"{path} is not valid JSON ({_first_line(error)}).") from None
    if not isinstance(description, dict) or description.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} is not a PSyGenTAB model description of format {FORMAT_VERSION}."
        )
    return description


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    if not path.exists():
        raise ModelFileError(f"No model weights at {path}.")
    try:
        # weights_only: a tampered file cannot run code, it can only fail to load.
        weights = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ModelFileError(
            f"{path} is not a valid weights file ({_first_line(error)})."
        ) from None
    if not isinstance(weights, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()
    ):
        raise ModelFileError(f"{path} does not hold a dictionary of tensors.")
    return weights


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__
