package ptlab.kernel;

/** The errno values the model returns, negated as the kernel does (-ENOMEM). */
public final class Errno {
    private Errno() {
    }

    public static final int EPERM = 1;
    public static final int EAGAIN = 11;
    public static final int ENOMEM = 12;
    public static final int EFAULT = 14;
    public static final int EEXIST = 17;
    public static final int EINVAL = 22;

    /** Whether a syscall's long result is an error (-4095..-1), as IS_ERR_VALUE. */
    public static boolean isError(long r) {
        return r < 0 && r >= -4095;
    }
}
