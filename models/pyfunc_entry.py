"""What MLflow runs to build the logged pyfunc ("models from code"); the package never imports it.

MLflow executes this file when the model is logged and when it is loaded, then calls
``load_context`` with the pipeline artifact.
"""

from mlflow.models import set_model

from models.pyfunc_model import SoccerOutcomeModel

set_model(SoccerOutcomeModel())
