"""Base class for every recipe section: strict (unknown keys are errors) and typed."""

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A recipe section; unknown keys are rejected so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
