using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FastPt.Lib;

internal static unsafe partial class MemchrInv
{
    /// <summary>Bytes per <see cref="Vector256{T}"/> of bytes.</summary>
    private const int Width256 = 32;

    /// <summary>Bytes per <see cref="Vector128{T}"/> of bytes.</summary>
    private const int Width128 = 16;

    /// <summary>The 256-bit strategy, shaped like <see cref="Vector512Scan"/>: aligned loads four vectors per
    /// iteration, differences OR-ed together, the index located only once something differs. Correct on any
    /// hardware; fast only where <see cref="Vector256.IsHardwareAccelerated"/>.</summary>
    public static long Vector256Scan(byte* start, nuint length, byte value)
    {
        if (length < Width256) return Vector128Short(start, length, value);

        Vector256<byte> target = Vector256.Create(value);
        byte* end = start + length;

        // Aligned start and whole vectors (every 4 KiB page and 2 MiB block): no head or tail.
        if ((((nuint)start | length) & (Width256 - 1)) == 0) return AlignedVector256(start, start, end, target);

        Vector256<byte> head = Vector256.Load(start) ^ target;
        if (head != Vector256<byte>.Zero) return FirstNonzero(head);

        // The aligned part starts at most one vector in, so it overlaps the head instead of leaving a gap.
        byte* alignedStart = (byte*)(((nuint)start + Width256) & ~(nuint)(Width256 - 1));
        byte* alignedEnd = (byte*)((nuint)end & ~(nuint)(Width256 - 1));
        long hit = AlignedVector256(start, alignedStart, alignedEnd, target);
        if (hit >= 0 || alignedEnd == end) return hit;

        // The tail vector overlaps bytes already known equal, so its first difference is the range's first.
        Vector256<byte> tail = Vector256.Load(end - Width256) ^ target;
        return tail != Vector256<byte>.Zero ? (long)(length - Width256) + FirstNonzero(tail) : -1;
    }

    /// <summary>Scans <c>[current, end)</c>, both 32-byte aligned, and returns an index relative to
    /// <paramref name="start"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long AlignedVector256(byte* start, byte* current, byte* end, Vector256<byte> target)
    {
        while ((nuint)(end - current) >= 4 * Width256)
        {
            Vector256<byte> first = Vector256.LoadAligned(current) ^ target;
            Vector256<byte> second = Vector256.LoadAligned(current + Width256) ^ target;
            Vector256<byte> third = Vector256.LoadAligned(current + 2 * Width256) ^ target;
            Vector256<byte> fourth = Vector256.LoadAligned(current + 3 * Width256) ^ target;

            // Something differs: the one-vector loop below finds it within these four vectors, from memory
            // still in L1, which keeps this loop free of spills and calls.
            if ((first | second | third | fourth) != Vector256<byte>.Zero) break;
            current += 4 * Width256;
        }

        for (; current != end; current += Width256)
        {
            Vector256<byte> difference = Vector256.LoadAligned(current) ^ target;
            if (difference != Vector256<byte>.Zero) return (current - start) + FirstNonzero(difference);
        }

        return -1;
    }

    /// <summary>Ranges shorter than one 256-bit vector: two overlapping 128-bit vectors from 16 bytes, words
    /// below.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long Vector128Short(byte* start, nuint length, byte value)
    {
        if (length < Width128) return ShortScan(start, length, value);

        Vector128<byte> target = Vector128.Create(value);
        Vector128<byte> head = Vector128.Load(start) ^ target;
        if (head != Vector128<byte>.Zero) return FirstNonzero(head);
        Vector128<byte> tail = Vector128.Load(start + length - Width128) ^ target;
        return tail != Vector128<byte>.Zero ? (long)(length - Width128) + FirstNonzero(tail) : -1;
    }

    /// <summary>Index of the first nonzero byte of a vector that has one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int FirstNonzero(Vector256<byte> difference) =>
        BitOperations.TrailingZeroCount(
            ~Vector256.Equals(difference, Vector256<byte>.Zero).ExtractMostSignificantBits());

    /// <summary>Index of the first nonzero byte of a vector that has one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int FirstNonzero(Vector128<byte> difference) =>
        BitOperations.TrailingZeroCount(
            ~Vector128.Equals(difference, Vector128<byte>.Zero).ExtractMostSignificantBits());
}
