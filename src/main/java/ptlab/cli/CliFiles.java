package ptlab.cli;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;

/**
 * The file rules of every command, in one place (issue 11, items 1-3 and 19):
 * <ul>
 *   <li>an input must be a readable regular file ({@code -} is stdin where a command says so);
 *       text inputs must be UTF-8;
 *   <li>an output FILE ({@code explore --out}, {@code trace generate --out}) is checked before any
 *       work: not empty, not a directory, writable; missing parent directories are created;
 *   <li>an output DIR ({@code experiment --out}) is created with its parents and checked writable
 *       before any work.
 * </ul>
 * Every failure is a {@link UsageException} naming the file and the reason in words, not a Java
 * exception name.
 */
final class CliFiles {

    private CliFiles() {
    }

    /** "FILE: reason" for an I/O error, in the words of the C library. */
    static String describe(IOException e) {
        if (e instanceof FileSystemException f) {
            String what = f.getFile() == null ? "" : f.getFile() + ": ";
            String reason = switch (f) {
                case NoSuchFileException x -> "no such file or directory";
                case AccessDeniedException x -> "permission denied";
                case NotDirectoryException x -> "not a directory";
                case FileAlreadyExistsException x -> "already exists";
                case DirectoryNotEmptyException x -> "directory not empty";
                default -> f.getReason() == null ? "I/O error" : lower(f.getReason());
            };
            return what + reason;
        }
        if (e instanceof CharacterCodingException) {
            return "input is not UTF-8 text";
        }
        return e.getMessage() == null ? "I/O error" : lower(e.getMessage());
    }

    private static String lower(String s) {
        return s.isEmpty() ? s : Character.toLowerCase(s.charAt(0)) + s.substring(1);
    }

    /** A readable regular file, or a UsageException naming why not. */
    static Path readable(String name) {
        if (name == null || name.isEmpty()) {
            throw new UsageException("an input file name is empty");
        }
        Path p;
        try {
            p = Path.of(name);
        } catch (InvalidPathException e) {
            throw new UsageException("cannot read " + name + ": not a valid path");
        }
        if (Files.isDirectory(p)) {
            throw new UsageException("cannot read " + name + ": is a directory");
        }
        if (!Files.exists(p)) {
            throw new UsageException("cannot read " + name + ": no such file");
        }
        if (!Files.isReadable(p)) {
            throw new UsageException("cannot read " + name + ": permission denied");
        }
        return p;
    }

    /** The whole of a small UTF-8 text file (a schedule, a summary, a cost table). */
    static String readText(String name, long maxBytes) {
        Path p = readable(name);
        try {
            if (Files.isRegularFile(p) && Files.size(p) > maxBytes) {
                throw new UsageException("cannot read " + name + ": larger than " + maxBytes + " bytes; "
                        + "is it the right file?");
            }
            byte[] b = Files.readAllBytes(p);
            if (b.length > maxBytes) {
                throw new UsageException("cannot read " + name + ": larger than " + maxBytes + " bytes");
            }
            return StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw new UsageException("cannot read " + name + ": not UTF-8 text (is it the right file?)");
        } catch (IOException e) {
            throw new UsageException("cannot read " + describe(e));
        }
    }

    /**
     * Checks that {@code file} can be written, before the work that produces it: creates missing
     * parent directories, and proves writability by creating (and removing) the file if it does not
     * exist yet.
     */
    static Path writableFile(Path file, String option) {
        if (file.toString().isEmpty()) {
            throw new UsageException(option + " is an empty file name");
        }
        if (Files.isDirectory(file)) {
            throw new UsageException(option + " " + file + ": is a directory (" + option + " names a file)");
        }
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            if (Files.exists(file)) {
                if (!Files.isWritable(file)) {
                    throw new UsageException(option + " " + file + ": permission denied");
                }
            } else {
                Files.createFile(file);
                Files.delete(file);
            }
        } catch (IOException e) {
            throw new UsageException("cannot write " + option + " " + describe(e));
        }
        return file;
    }

    /** Creates {@code dir} (with parents) and checks that files can be made in it, before the work. */
    static Path writableDir(Path dir, String option) {
        if (dir.toString().isEmpty()) {
            throw new UsageException(option + " is an empty directory name");
        }
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new UsageException(option + " " + dir + ": not a directory (" + option + " names a directory)");
        }
        try {
            Files.createDirectories(dir);
            Path probe = Files.createTempFile(dir, ".ptlab-write-check", ".tmp");
            Files.delete(probe);
        } catch (IOException e) {
            throw new UsageException("cannot write " + option + " " + describe(e));
        }
        return dir;
    }
}
