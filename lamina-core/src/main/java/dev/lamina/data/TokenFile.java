package dev.lamina.data;

import dev.lamina.io.AtomicFiles;
import dev.lamina.io.LaminaException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Objects;

/**
 * A memory-mapped file of token ids. Layout, all little-endian:
 * <pre>
 *  0  "LMTK"           magic
 *  4  u32 version      1
 *  8  u32 width        bytes per token: 2 (uint16, when vocab ≤ 65536) or 4 (int32)
 * 12  u32 vocab size
 * 16  u64 token count  n
 * 24  n tokens
 * </pre>
 * Thread-safe for reading; close to unmap.
 */
public final class TokenFile implements AutoCloseable {
    static final byte[] MAGIC = "LMTK".getBytes(StandardCharsets.US_ASCII);
    static final int VERSION = 1;
    static final int HEADER = 24;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path file;
    private final Arena arena;
    private final MemorySegment tokens;
    private final int width, vocabSize;
    private final long size;

    private TokenFile(Path file, Arena arena, MemorySegment tokens, int width, int vocabSize, long size) {
        this.file = file;
        this.arena = arena;
        this.tokens = tokens;
        this.width = width;
        this.vocabSize = vocabSize;
        this.size = size;
    }

    /** Bytes per token for a vocabulary: 2 when every id fits in uint16, else 4. */
    static int widthFor(int vocabSize) { return vocabSize <= 65536 ? 2 : 4; }

    public static void write(Path file, int[] tokens, int vocabSize) { write(file, List.of(tokens), vocabSize); }

    /** Writes the concatenation of parts (atomically); every id must be in [0, vocabSize). Returns the count. */
    public static long write(Path file, List<int[]> parts, int vocabSize) {
        if (vocabSize <= 0) throw new IllegalArgumentException("vocab size must be positive, got " + vocabSize);
        long n = 0;
        for (int[] p : parts) {
            for (int i = 0; i < p.length; i++)
                if (p[i] < 0 || p[i] >= vocabSize)
                    throw new LaminaException(file + ": token id " + p[i] + " at index " + (n + i)
                            + " is outside the vocabulary [0, " + vocabSize + ")");
            n += p.length;
        }
        long count = n;
        int width = widthFor(vocabSize);
        AtomicFiles.write(file, out -> {
            byte[] buf = new byte[1 << 16];
            MemorySegment seg = MemorySegment.ofArray(buf);
            System.arraycopy(MAGIC, 0, buf, 0, 4);
            seg.set(I32, 4, VERSION);
            seg.set(I32, 8, width);
            seg.set(I32, 12, vocabSize);
            seg.set(I64, 16, count);
            out.write(buf, 0, HEADER);
            int chunk = buf.length / width;
            for (int[] p : parts) {
                for (int done = 0; done < p.length; ) {
                    int k = Math.min(chunk, p.length - done);
                    if (width == 4) MemorySegment.copy(p, done, seg, I32, 0, k);
                    else for (int i = 0; i < k; i++) seg.setAtIndex(U16, i, (short) p[done + i]);
                    out.write(buf, 0, k * width);
                    done += k;
                }
            }
        });
        return count;
    }

    /** Maps a token file, checking its header and length. */
    public static TokenFile open(Path file) {
        String hint = "; run `lamina prepare`";
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long bytes = ch.size();
            Arena arena = Arena.ofShared();
            try {
                MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, bytes, arena);
                if (bytes < 4 || MemorySegment.mismatch(all, 0, 4, MemorySegment.ofArray(MAGIC), 0, 4) != -1)
                    throw new LaminaException(file + ": not a Lamina token file" + hint);
                if (bytes < HEADER)
                    throw new LaminaException(file + ": truncated token file (" + bytes + " bytes, shorter than the header)" + hint + " again");
                int version = all.get(I32, 4);
                if (version != VERSION)
                    throw new LaminaException(file + ": token file version " + version + " is not supported (this Lamina reads version "
                            + VERSION + ")" + hint + " again");
                int width = all.get(I32, 8), vocab = all.get(I32, 12);
                long n = all.get(I64, 16);
                if ((width != 2 && width != 4) || vocab <= 0 || n < 0 || width < widthFor(vocab))
                    throw new LaminaException(file + ": corrupt token file header (width " + width + ", vocab " + vocab
                            + ", count " + n + ")" + hint + " again");
                if (n > (bytes - HEADER) / width || HEADER + n * width != bytes)
                    throw new LaminaException(file + ": truncated or damaged token file (header says " + n + " tokens of "
                            + width + " bytes, the file has " + (bytes - HEADER) + " data bytes)" + hint + " again");
                return new TokenFile(file, arena, all.asSlice(HEADER), width, vocab, n);
            } catch (RuntimeException e) {
                arena.close();
                throw e;
            }
        } catch (NoSuchFileException e) {
            throw new LaminaException(file + ": token file not found" + hint);
        } catch (IOException e) {
            throw new LaminaException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    public Path file() { return file; }

    /** Number of tokens. */
    public long size() { return size; }

    public int vocabSize() { return vocabSize; }

    public int get(long i) {
        Objects.checkIndex(i, size);
        return width == 2 ? tokens.getAtIndex(U16, i) & 0xffff : tokens.getAtIndex(I32, i);
    }

    /** Copies tokens [start, start + len) into dst[dstOff ...]. */
    public void read(long start, int[] dst, int dstOff, int len) {
        Objects.checkFromIndexSize(start, len, size);
        Objects.checkFromIndexSize(dstOff, len, dst.length);
        if (width == 4) {
            MemorySegment.copy(tokens, I32, start * 4, dst, dstOff, len);
        } else {
            for (int i = 0; i < len; i++) dst[dstOff + i] = tokens.getAtIndex(U16, start + i) & 0xffff;
        }
    }

    /** All tokens in one array (for small files and tests). */
    public int[] toArray() {
        int[] out = new int[Math.toIntExact(size)];
        read(0, out, 0, out.length);
        return out;
    }

    @Override public void close() { arena.close(); }

    @Override public String toString() { return "TokenFile[" + file + ", " + size + " tokens, vocab " + vocabSize + "]"; }
}
