"""The bundle as an MLflow pyfunc model, logged as "models from code" (no pickle).

MLflow copies this file into the logged model and executes it on load; it must only define the
model class and hand an instance to ``mlflow.models.set_model``. The bundle itself is an
artifact named ``bundle``, verified file by file when the model loads.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel


class ShipriskPyfuncModel(PythonModel):
    """Per-threat calibrated risk, overall risk and lane for canonical declarations (no reasons)."""

    def load_context(self, context: Any) -> None:
        """Load and verify the bundle artifact."""
        from models.bundle import ModelBundle

        self.bundle = ModelBundle.load(context.artifacts["bundle"])

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Scores as a frame: ``declaration_id``, ``risk_<threat>``..., ``overall``, ``lane``.

        The input is validated first, as the service does: JSON records that leave out an
        optional field arrive without its column, and raw values (dates as text, WCO digits)
        become canonical before the features are computed.
        """
        from features.extras import validated_for_model

        # The model's extra ``x_`` features are read by kind; one left out is a missing value.
        declarations = validated_for_model(model_input, self.bundle.extra_features)
        return self.bundle.risk_frame(declarations)


set_model(ShipriskPyfuncModel())
