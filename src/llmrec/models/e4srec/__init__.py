"""E4SRec (Li et al., arXiv 2312.02443): the model, its prompt, its frozen ID table, instruction tuning and
new items. Its earlier stages (training the SASRec, tuning the backbone) are declared in
``conf/model/e4srec.yaml`` and run by the runner (run/stages.py); nothing here imports the runner."""
