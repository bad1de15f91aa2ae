package ptlab.cli;

/** Bad input from the user: reported as one line on stderr, exit code 2, no stack trace. */
public final class UsageException extends RuntimeException {
    public UsageException(String message) {
        super(message);
    }
}
