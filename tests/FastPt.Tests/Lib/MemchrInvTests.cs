using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.Linq;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using FastPt.Lib;
using Xunit;

// Tests mirror the library's folders, and the library's folder is Lib (the kernel's lib/): the clash with Visual
// Basic's Lib keyword does not matter for a test assembly.
[assembly: SuppressMessage("Naming", "CA1716:Identifiers should not match keywords", Scope = "namespace",
    Target = "~N:FastPt.Tests.Lib", Justification = "Mirrors src/FastPt/Lib, named after the kernel's lib/.")]

namespace FastPt.Tests.Lib;

/// <summary>Every <c>memchr_inv</c> strategy against ranges whose answer is known by construction or computed by a
/// plain byte loop: every short length at every alignment, every position of a 4 KiB page, chosen positions of a
/// 2 MiB block.</summary>
public unsafe class MemchrInvTests
{
    /// <summary>The kernel's PAGE_UNUSED marker.</summary>
    private const byte PageUnused = 0xFD;

    private const int MaxShortLength = 300;
    private const int Alignments = 64;
    private const int PageSize = 4096;
    private const int BlockSize = 2 << 20;

    public enum Strategy
    {
        EntryPoint,
        SpanOverload,
        Scalar,
        Vector256,
        Vector512,
        Bcl,
    }

    public static TheoryData<Strategy> Strategies => new(Enum.GetValues<Strategy>());

    public static TheoryData<Strategy, byte> StrategiesAndOtherValues
    {
        get
        {
            var data = new TheoryData<Strategy, byte>();
            foreach (Strategy strategy in Enum.GetValues<Strategy>())
            {
                foreach (byte value in new byte[] { 0x00, 0xFF }) data.Add(strategy, value);
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public void Every_short_length_at_every_alignment_with_no_or_one_mismatch_at_every_position(Strategy strategy)
    {
        SkipUnlessAccelerated(strategy);
        SweepShortRanges(strategy, PageUnused, everyPosition: true);
    }

    [Theory]
    [MemberData(nameof(StrategiesAndOtherValues))]
    public void Other_values_at_every_short_length_and_alignment_with_a_mismatch_at_the_ends_and_middle(
        Strategy strategy, byte value)
    {
        SkipUnlessAccelerated(strategy);
        SweepShortRanges(strategy, value, everyPosition: false);
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public void A_4_KiB_page_reports_a_mismatch_at_every_position(Strategy strategy)
    {
        SkipUnlessAccelerated(strategy);
        using var buffer = new AlignedBuffer(PageSize + Alignments, PageSize);

        // Aligned like a vmemmap page, then shifted to exercise the unaligned head and tail around the same loop.
        foreach (int offset in new[] { 0, 1, 7, 8, 31, 32, 63 })
        {
            buffer.Span.Clear();
            byte* page = buffer.Pointer + offset;
            new Span<byte>(page, PageSize).Fill(PageUnused);
            AssertScan(-1, strategy, page, PageSize, PageUnused);

            for (int position = 0; position < PageSize; position++)
            {
                page[position] = 0x00;
                AssertScan(position, strategy, page, PageSize, PageUnused);

                // A second, later mismatch must not hide or replace the first.
                int later = position + 1 < PageSize ? PageSize - 1 : position;
                page[later] = 0xFC;
                AssertScan(position, strategy, page, PageSize, PageUnused);
                page[later] = PageUnused;
                page[position] = PageUnused;
            }
        }
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public void A_2_MiB_block_reports_mismatches_at_ends_vector_boundaries_and_random_positions(Strategy strategy)
    {
        SkipUnlessAccelerated(strategy);
        using var buffer = new AlignedBuffer(BlockSize + Alignments, BlockSize);
        int[] positions = BlockPositions();

        foreach (int offset in new[] { 0, 3 })
        {
            byte* block = buffer.Pointer + offset;
            int length = BlockSize - offset;
            buffer.Span.Fill(PageUnused);
            AssertScan(-1, strategy, block, length, PageUnused);

            foreach (int position in positions.Where(position => position < length))
            {
                block[position] = 0x00;
                AssertScan(position, strategy, block, length, PageUnused);
                block[position] = PageUnused;
            }
        }
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public void Random_ranges_with_several_mismatches_match_the_byte_loop(Strategy strategy)
    {
        SkipUnlessAccelerated(strategy);
        const int MaxLength = 1200;
        using var buffer = new AlignedBuffer(Alignments + MaxLength + Alignments, Alignments);
        var random = new Random(20261122);

        for (int iteration = 0; iteration < 20_000; iteration++)
        {
            byte value = (byte)random.Next(256);
            int offset = random.Next(Alignments);
            int length = random.Next(MaxLength + 1);
            buffer.Span.Fill((byte)(value + 1));
            byte* start = buffer.Pointer + offset;
            new Span<byte>(start, length).Fill(value);
            for (int mismatches = random.Next(4); mismatches > 0 && length > 0; mismatches--)
            {
                start[random.Next(length)] = (byte)(value ^ random.Next(1, 256));
            }

            AssertScan(Reference(start, length, value), strategy, start, length, value);
        }
    }

    [Fact]
    public void IsAll_is_true_only_when_every_byte_matches()
    {
        using var buffer = new AlignedBuffer(PageSize, PageSize);
        buffer.Span.Fill(PageUnused);

        Assert.True(MemchrInv.IsAll(buffer.Pointer, 0, 0x00));
        Assert.True(MemchrInv.IsAll(ReadOnlySpan<byte>.Empty, 0x00));
        Assert.True(MemchrInv.IsAll(buffer.Pointer, PageSize, PageUnused));
        Assert.True(MemchrInv.IsAll(buffer.Span, PageUnused));
        Assert.False(MemchrInv.IsAll(buffer.Pointer, PageSize, 0x00));

        buffer.Span[PageSize - 1] = 0x00;
        Assert.False(MemchrInv.IsAll(buffer.Pointer, PageSize, PageUnused));
        Assert.False(MemchrInv.IsAll(buffer.Span, PageUnused));
        Assert.True(MemchrInv.IsAll(buffer.Pointer, PageSize - 1, PageUnused));
    }

    [Fact]
    public void The_reference_loop_finds_the_first_mismatch()
    {
        // The random test trusts this loop, so it gets a check of its own.
        byte* bytes = stackalloc byte[] { 1, 1, 2, 1, 3 };
        Assert.Equal(2, Reference(bytes, 5, 1));
        Assert.Equal(-1, Reference(bytes, 2, 1));
        Assert.Equal(0, Reference(bytes, 5, 2));
    }

    /// <summary>Every length up to <see cref="MaxShortLength"/> at every start offset within a cache line, with
    /// no mismatch and with one mismatch at every position (or at the first, middle and last).</summary>
    private static void SweepShortRanges(Strategy strategy, byte value, bool everyPosition)
    {
        byte guard = (byte)(value ^ 0x5A);
        using var buffer = new AlignedBuffer(Alignments + MaxShortLength + Alignments, Alignments);

        for (int offset = 0; offset < Alignments; offset++)
        {
            for (int length = 0; length <= MaxShortLength; length++)
            {
                // Guard bytes around the range differ from the value: reading past either end changes the answer.
                buffer.Span.Fill(guard);
                buffer.Span.Slice(offset, length).Fill(value);
                byte* start = buffer.Pointer + offset;
                AssertScan(-1, strategy, start, length, value);

                IEnumerable<int> positions = everyPosition
                    ? Enumerable.Range(0, length)
                    : length == 0 ? [] : new[] { 0, length / 2, length - 1 }.Distinct();
                foreach (int position in positions)
                {
                    // A single flipped bit, a different one per position, so no bit of a byte goes unchecked.
                    start[position] = (byte)(value ^ (1 << (position & 7)));
                    AssertScan(position, strategy, start, length, value);
                    start[position] = value;
                }
            }
        }
    }

    /// <summary>The first and last bytes, both sides of every boundary of each width the strategies step by
    /// (word, 128/256/512-bit vector, four-vector group) near both ends and the middle, and random positions.</summary>
    private static int[] BlockPositions()
    {
        var positions = new SortedSet<int> { 0, 1, BlockSize - 2, BlockSize - 1 };
        foreach (int width in new[] { 8, 16, 32, 64, 128, 256, 512 })
        {
            int count = BlockSize / width;
            foreach (int boundary in new[] { 1, 2, 3, 4, count / 2, count - 1 })
            {
                positions.Add(boundary * width - 1);
                positions.Add(boundary * width);
                positions.Add(boundary * width + 1);
            }
        }

        var random = new Random(1);
        for (int index = 0; index < 32; index++) positions.Add(random.Next(BlockSize));
        return positions.ToArray();
    }

    private static void SkipUnlessAccelerated(Strategy strategy)
    {
        // The vector strategies are correct in software too, but far too slow there for exhaustive sweeps.
        Assert.SkipWhen(strategy == Strategy.Vector512 && !Vector512.IsHardwareAccelerated, "no 512-bit vectors");
        Assert.SkipWhen(strategy == Strategy.Vector256 && !Vector256.IsHardwareAccelerated, "no 256-bit vectors");
    }

    private static void AssertScan(long expected, Strategy strategy, byte* start, int length, byte value)
    {
        long actual = Scan(strategy, start, (nuint)length, value);
        if (actual != expected)
        {
            // Built only on failure: the sweeps make millions of calls.
            Assert.Fail($"{strategy}: length {length} at address offset {(nuint)start % 64} with value 0x{value:X2}: " +
                $"expected {expected}, got {actual}");
        }
    }

    private static long Scan(Strategy strategy, byte* start, nuint length, byte value) => strategy switch
    {
        Strategy.EntryPoint => MemchrInv.IndexOfNot(start, length, value),
        Strategy.SpanOverload => MemchrInv.IndexOfNot(new ReadOnlySpan<byte>(start, (int)length), value),
        Strategy.Scalar => MemchrInv.Scalar(start, length, value),
        Strategy.Vector256 => MemchrInv.Vector256Scan(start, length, value),
        Strategy.Vector512 => MemchrInv.Vector512Scan(start, length, value),
        Strategy.Bcl => MemchrInv.Bcl(start, length, value),
        _ => throw new ArgumentOutOfRangeException(nameof(strategy)),
    };

    private static long Reference(byte* start, int length, byte value)
    {
        for (int index = 0; index < length; index++)
        {
            if (start[index] != value) return index;
        }

        return -1;
    }

    /// <summary>Native memory with a chosen alignment, like the simulated machine's frames.</summary>
    private sealed class AlignedBuffer : IDisposable
    {
        public AlignedBuffer(int length, int alignment)
        {
            Length = length;
            Pointer = (byte*)NativeMemory.AlignedAlloc((nuint)length, (nuint)alignment);
        }

        public byte* Pointer { get; private set; }

        public int Length { get; }

        public Span<byte> Span => new(Pointer, Length);

        public void Dispose()
        {
            NativeMemory.AlignedFree(Pointer);
            Pointer = null;
        }
    }
}
