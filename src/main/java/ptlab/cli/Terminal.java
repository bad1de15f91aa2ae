package ptlab.cli;

/**
 * Whether progress may be drawn. Progress goes to stderr whenever stderr is a terminal, also
 * when stdout is redirected ({@code explore … --format json > shard.json}), and never in CI logs.
 * Java 21 cannot ask whether stderr alone is a terminal ({@code System.console()} looks at stdin
 * and stdout), so the launcher, which can ({@code [[ -t 2 ]]}), passes PTLAB_STDERR_TTY=1.
 */
final class Terminal {

    private Terminal() {
    }

    static boolean stderrIsTerminal() {
        return "1".equals(System.getenv("PTLAB_STDERR_TTY")) && System.getenv("CI") == null;
    }
}
