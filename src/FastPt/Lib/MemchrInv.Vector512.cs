using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FastPt.Lib;

internal static unsafe partial class MemchrInv
{
    /// <summary>Bytes per <see cref="Vector512{T}"/> of bytes.</summary>
    private const int Width512 = 64;

    /// <summary>The 512-bit strategy: aligned loads four vectors per iteration with the differences OR-ed together,
    /// so the index is only located once something differs. Correct on any hardware; fast only where
    /// <see cref="Vector512.IsHardwareAccelerated"/>.</summary>
    public static long Vector512Scan(byte* start, nuint length, byte value)
    {
        if (length < Width512) return Vector256Scan(start, length, value);

        Vector512<byte> target = Vector512.Create(value);
        byte* end = start + length;

        // A 4 KiB page or a 2 MiB block: aligned start, whole vectors, no head or tail to handle.
        if ((((nuint)start | length) & (Width512 - 1)) == 0) return AlignedVector512(start, start, end, target);

        Vector512<byte> head = Vector512.Load(start) ^ target;
        if (head != Vector512<byte>.Zero) return FirstNonzero(head);

        // The aligned part starts at most one vector in, so it overlaps the head instead of leaving a gap.
        byte* alignedStart = (byte*)(((nuint)start + Width512) & ~(nuint)(Width512 - 1));
        byte* alignedEnd = (byte*)((nuint)end & ~(nuint)(Width512 - 1));
        long hit = AlignedVector512(start, alignedStart, alignedEnd, target);
        if (hit >= 0 || alignedEnd == end) return hit;

        // The tail vector overlaps bytes already known equal, so its first difference is the range's first.
        Vector512<byte> tail = Vector512.Load(end - Width512) ^ target;
        return tail != Vector512<byte>.Zero ? (long)(length - Width512) + FirstNonzero(tail) : -1;
    }

    /// <summary>Scans <c>[current, end)</c>, both 64-byte aligned, and returns an index relative to
    /// <paramref name="start"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long AlignedVector512(byte* start, byte* current, byte* end, Vector512<byte> target)
    {
        while ((nuint)(end - current) >= 4 * Width512)
        {
            Vector512<byte> first = Vector512.LoadAligned(current) ^ target;
            Vector512<byte> second = Vector512.LoadAligned(current + Width512) ^ target;
            Vector512<byte> third = Vector512.LoadAligned(current + 2 * Width512) ^ target;
            Vector512<byte> fourth = Vector512.LoadAligned(current + 3 * Width512) ^ target;

            // Something differs: the one-vector loop below finds it within these four vectors, from memory
            // still in L1, which keeps this loop free of spills and calls.
            if ((first | second | third | fourth) != Vector512<byte>.Zero) break;
            current += 4 * Width512;
        }

        for (; current != end; current += Width512)
        {
            Vector512<byte> difference = Vector512.LoadAligned(current) ^ target;
            if (difference != Vector512<byte>.Zero) return (current - start) + FirstNonzero(difference);
        }

        return -1;
    }

    /// <summary>Index of the first nonzero byte of a vector that has one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int FirstNonzero(Vector512<byte> difference) =>
        BitOperations.TrailingZeroCount(
            ~Vector512.Equals(difference, Vector512<byte>.Zero).ExtractMostSignificantBits());
}
