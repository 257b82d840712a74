"""The TensorFlow-1 surface: placeholders, variables, sessions and optimizers."""
from . import train  # noqa: F401
from .session import InteractiveSession, Session, get_default_session  # noqa: F401
from .variables import (Variable, global_variables, global_variables_initializer,  # noqa: F401
                        initialize_all_variables, placeholder, trainable_variables,
                        variables_initializer)
