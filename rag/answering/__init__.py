"""From hits to a verified answer: the pipeline, prompts, extraction, verification."""
