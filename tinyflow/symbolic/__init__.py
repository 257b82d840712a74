"""The TensorFlow-1 surface: placeholders, variables, sessions and optimizers."""
from . import train  # noqa: F401
from .session import InteractiveSession, Session, get_default_session  # noqa: F401
from .variables import (Variable, get_collection, global_variables,  # noqa: F401
                        global_variables_initializer,
                        initialize_all_variables, placeholder, trainable_variables,
                        variables_initializer)
