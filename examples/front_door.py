import robnas

digits = robnas.load_dataset("digits", test_size=50)      # 8x8 digits, 50 stratified test points
cell = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
model = robnas.create_model("nb201", arch=cell, C=8, N=1, num_classes=10, in_channels=1)
record = robnas.evaluate(model, digits.test, robnas.get_protocol("devaguptapu"), num_classes=10)
print(record.clean.accuracy, record.worst_case)           # untrained: about 10%
bench = robnas.bench.open("digits-nb201")                 # or a file: robnas.bench.open("b.sqlite")
print(bench.query("pgd@Linf", "accuracy", eps="8/255"))   # numpy array aligned with bench.archs()
result = robnas.search.run("nb201", "re", ["robust_error:fgsm@20/255"], bench, budget=100, seed=0)
print(result.best)                                        # (arch string, objectives) of the best found
