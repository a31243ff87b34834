"""Example questions about the bundled articles (taken from eval/gold/seeds.jsonl), one click to ask."""

EXAMPLES = [
    "من هو ممثل روسيا الدائم لدى مقر الأمم المتحدة في جنيف؟",
    "كيف وصف بوتين معارضي الأسد؟",
    "ما الشرط الذي وضعه وزير الدفاع الأمريكي لتعاون واشنطن مع موسكو؟",
    "How did Putin describe the chemical attack in Khan Shaykhun?",
    "Which US defence secretary doubted that a military cooperation deal with Russia over Syria could succeed?",
]
