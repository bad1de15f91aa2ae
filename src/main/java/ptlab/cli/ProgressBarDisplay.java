package ptlab.cli;

import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** The progress bar of {@code ptlab trace replay}, in its own class so that jline loads only when it is shown. */
final class ProgressBarDisplay implements TraceCommand.Progress {

    private final ProgressBar bar;

    private ProgressBarDisplay(ProgressBar bar) {
        this.bar = bar;
    }

    static ProgressBarDisplay create(long bytes) {
        return new ProgressBarDisplay(new ProgressBarBuilder()
                .setTaskName("replay")
                .setInitialMax(bytes)
                .setUnit(" MiB", 1 << 20)
                .setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(250)
                .showSpeed()
                .clearDisplayOnFinish()
                .build());
    }

    @Override
    public void stepTo(long bytes) {
        bar.stepTo(bytes);
    }

    @Override
    public void close() {
        bar.close();
    }
}
