"""Predict or train: the one choice that names a worker's entry point, its HTTP routes and schema.

Every layer used to spell this choice its own way ("predict", "prediction", "predictions",
"TrainingInput"). `Mode` carries all of those names, so code asks the enum instead of slicing
strings. Standard library only, Python 3.8+: the worker imports it inside the user's interpreter.
"""

from __future__ import annotations

import enum


class Mode(str, enum.Enum):
    PREDICT = "predict"
    TRAIN = "train"

    @property
    def noun(self) -> str:
        """What one run is called: `prediction` or `training`."""
        return "prediction" if self is Mode.PREDICT else "training"

    @property
    def endpoint(self) -> str:
        """The collection route without its slash: `predictions` or `trainings`."""
        return self.noun + "s"

    @property
    def id_param(self) -> str:
        """The path parameter of one run's routes: `prediction_id` or `training_id`."""
        return self.noun + "_id"

    @property
    def input_component(self) -> str:
        """The OpenAPI component that describes the inputs."""
        return "Input" if self is Mode.PREDICT else "TrainingInput"

    @property
    def output_component(self) -> str:
        return "Output" if self is Mode.PREDICT else "TrainingOutput"

    @property
    def cog_yaml_key(self) -> str:
        """The cog.yaml key that names the entry point: `predict` or `train`."""
        return self.value
