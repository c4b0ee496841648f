from nlu.inference import Predictor


def test_tiny_model_predicts(tiny_model_dir):
    predictions = Predictor.load(tiny_model_dir).predict(["turn on the lights", "   "])
    assert predictions[0].intent is not None and predictions[1].intent is None
