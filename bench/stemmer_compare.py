"""Compare Arabic stemming for BM25 on ARCD train (tuning data only): none, Snowball, Snowball + article
prefixes (what rag.text.arabic.analyze does), Tashaphyne. Prints Recall@1/5 and MRR@10. Run: python bench/stemmer_compare.py"""
import json
from pathlib import Path

import bm25s
import numpy as np

DATA = str(Path(__file__).resolve().parents[2] / "shared" / "data" / "arcd-train")
from tashaphyne.stemming import ArabicLightStemmer

from rag.text import arabic

P=[json.loads(l) for l in open(DATA + '/passages.jsonl')]
Q=[json.loads(l) for l in open(DATA + '/qa.jsonl')]
ids=[p['id'] for p in P]
ts=ArabicLightStemmer()
def tash(t):
    ts.light_stem(t); return arabic.normalize(ts.get_stem())
import Stemmer; sb=Stemmer.Stemmer('arabic')
variants={
 'none': lambda text: arabic.tokens(text),
 'snowball': lambda text: [arabic.normalize(sb.stemWord(t)) for t in arabic.content_words(text)],
 'snowball+prefix': arabic.analyze,
 'tashaphyne': lambda text: [tash(t) for t in arabic.content_words(text)],
}
for name,fn in variants.items():
    bm=bm25s.BM25(); bm.index([fn(p['title']+"\n"+p['text']) for p in P], show_progress=False)
    r1=[];r5=[];mrr=[]
    for q in Q:
        sc=bm.get_scores(fn(q['question'])); o=np.argsort(-sc)
        rank=[ids[i] for i in o].index(q['context_id'])+1
        r1.append(rank==1); r5.append(rank<=5); mrr.append(1/rank if rank<=10 else 0)
    print(f"{name:16s} R@1 {np.mean(r1):.3f} R@5 {np.mean(r5):.3f} MRR@10 {np.mean(mrr):.3f}")
