"""The reader's raw-string SavedModel signature answers as the Python pipeline does (pieces, windows, spans)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfnlp.models.qa_serving import InGraphWordPieces, answer_endpoint
from tfnlp.models.question_answering import QuestionAnswerer
from tfnlp.serving.qa_pipeline import QuestionAnsweringPipeline

CONTEXTS = [
    "the movie was bad today. i feel sad, it was good and not awful.",
    "Café: it was GREAT, the tweet was sad — and angry! " * 6,  # several windows; accents, case, punctuation
    "i feel joy",
]
QUESTIONS = ["what was it?", "was it sad?", "how do i feel?"]


@pytest.fixture(scope="module")
def reader(trainable_bert_dir):
    keras.utils.set_random_seed(0)
    return QuestionAnswerer.from_preset(str(trainable_bert_dir), max_length=24, stride=8)


def test_in_graph_pieces_are_the_models_ids_with_offsets_into_the_original_text(reader):
    texts = ["Café: it was GREAT, the tweet!", "naïve\tDAY  joy", "i feel joy", "ﬁne day"]
    ids, starts, ends = InGraphWordPieces(reader.tokenizer)(tf.constant(texts))
    for row, text in enumerate(texts):
        assert ids[row].numpy().tolist() == np.asarray(reader.tokenizer(text)).tolist()
    for row, text in enumerate(texts[:3]):  # normalizing keeps every word's length: offsets are exact
        fast = reader.fast_tokenizer().encode(text, add_special_tokens=False)
        assert list(zip(starts[row].numpy(), ends[row].numpy())) == [tuple(o) for o in fast.offsets]
    # The ligature "ﬁ" case-folds to "fi": the word keeps its own span in the original text.
    assert (int(starts[3][0]), int(ends[3][0])) == (0, 3) and texts[3][int(starts[3][1]):int(ends[3][1])] == "day"


def test_raw_string_answers_match_the_pipeline(reader):
    function, _ = answer_endpoint(reader)
    served = tf.function(function)(tf.constant(QUESTIONS), tf.constant(CONTEXTS))
    expected = [found[0] for found in QuestionAnsweringPipeline(reader).answer_all(QUESTIONS, CONTEXTS)]
    assert len(reader.features(QUESTIONS[1:2], CONTEXTS[1:2])) > 1, "the long context takes several windows"
    for index, answer in enumerate(expected):
        assert served["answer"][index].numpy().decode() == answer["answer"]
        assert (int(served["start"][index]), int(served["end"][index])) == (answer["start"], answer["end"])
        np.testing.assert_allclose(float(served["score"][index]), answer["score"], rtol=1e-4)
