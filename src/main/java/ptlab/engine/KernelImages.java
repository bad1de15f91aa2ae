package ptlab.engine;

import ptlab.hw.PagingMode;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelImage;
import ptlab.kernel.KernelVariant;

/**
 * Booted kernels for one search's machines: the first boot of a mode, configuration and variant
 * is frozen into a {@link KernelImage}, and every later machine with the same three restores a
 * copy of it instead of booting (an explored schedule is tens of microseconds; a boot was a good
 * part of them, and most of the code the JIT had to warm up). Held by the supplier of
 * {@link Scenario#machines(String)}: one per search and worker thread, never shared, not
 * thread-safe.
 */
public final class KernelImages {

    private KernelImage image;
    private long restores;

    /** What {@link KernelBridge#boot(PagingMode, KernelConfig, KernelVariant, Checker)} returns, from an image when there is one. */
    public KernelBridge.Booted boot(PagingMode mode, KernelConfig cfg, KernelVariant variant, Checker checker) {
        if (image == null || !image.bootsAs(mode, cfg, variant, null)) {
            image = KernelImage.boot(mode, cfg, variant, null);
        } else {
            restores++;
        }
        return KernelBridge.boot(image, checker);
    }

    /** Kernels made from an image that was already there (every boot but the first of its kind). */
    public long restores() {
        return restores;
    }
}
