"""Text: vocabularies, sampling rules, and the language-model API (load, score, generate), with
the data and training behind the shipped text models."""
