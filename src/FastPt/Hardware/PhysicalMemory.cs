using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;

namespace FastPt.Hardware;

/// <summary>The simulated machine's RAM: a flat table of 2 MiB host chunks indexed by physical address.
/// A chunk is allocated from <see cref="NativeMemory.AlignedAlloc"/> and zeroed the first time something writes
/// into it; until then every read of it sees a shared zero chunk (like the kernel's zero page), so a simulated
/// terabyte costs only what is written. <c>pfn → host pointer</c> is one table load.</summary>
/// <remarks>The chunk table itself comes from <see cref="NativeMemory.AllocZeroed(nuint, nuint)"/>: large zeroed allocations
/// are fresh anonymous mappings, so its untouched parts cost no host memory either.</remarks>
internal sealed unsafe partial class PhysicalMemory : IDisposable
{
    public const int ChunkShift = 21;
    public const ulong ChunkSize = 1UL << ChunkShift;
    private const ulong ChunkOffsetMask = ChunkSize - 1;

    private static readonly object s_zeroLock = new();
    private static byte* s_zeroChunk;
    private static long s_liveChunksProcess;

    private readonly nint* _chunks;
    private readonly ulong _chunkCount;

    // One bit per 512 chunks (one 4 KiB page of the chunk table): which parts of the table were ever used,
    // so that teardown never reads the untouched (unallocated) rest of a table sized for 64 TiB.
    private readonly ulong* _touched;
    private readonly ulong _touchedWords;
    private readonly bool _adviseHugePages;
    private long _liveChunks;
    private int _disposed;

    public PhysicalMemory(ulong maxPhysicalAddress, bool adviseHugePages)
    {
        if (maxPhysicalAddress == 0 || (maxPhysicalAddress & ChunkOffsetMask) != 0)
            throw new ArgumentOutOfRangeException(nameof(maxPhysicalAddress), "must be a non-zero multiple of 2 MiB");
        MaxPhysicalAddress = maxPhysicalAddress;
        MaxPfn = maxPhysicalAddress >> 12;
        _chunkCount = maxPhysicalAddress >> ChunkShift;
        _chunks = (nint*)NativeMemory.AllocZeroed((nuint)_chunkCount, (nuint)sizeof(nint));
        _touchedWords = (_chunkCount + 512 * 64 - 1) / (512 * 64);
        _touched = (ulong*)NativeMemory.AllocZeroed((nuint)_touchedWords, sizeof(ulong));
        _adviseHugePages = adviseHugePages && OperatingSystem.IsLinux();
        EnsureZeroChunk();
    }

    /// <summary>Exclusive upper bound of physical addresses.</summary>
    public ulong MaxPhysicalAddress { get; }

    /// <summary>Exclusive upper bound of frame numbers.</summary>
    public ulong MaxPfn { get; }

    /// <summary>Host chunks this instance holds now.</summary>
    public long LiveChunks => Volatile.Read(ref _liveChunks);

    /// <summary>Host chunks held by every <see cref="PhysicalMemory"/> in the process.</summary>
    public static long LiveChunksInProcess => Volatile.Read(ref s_liveChunksProcess);

    /// <summary>Host bytes this instance holds now.</summary>
    public long HostBytes => LiveChunks * (long)ChunkSize;

    /// <summary>True when the chunk holding <paramref name="pa"/> has host memory behind it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsBacked(ulong pa) => _chunks[pa >> ChunkShift] != 0;

    /// <summary>A host pointer for reading at <paramref name="pa"/>. Points into the shared zero chunk when
    /// nothing was ever written there: never write through it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* ReadPointer(ulong pa)
    {
        Debug.Assert(pa < MaxPhysicalAddress);
        nint chunk = _chunks[pa >> ChunkShift];
        return (chunk == 0 ? s_zeroChunk : (byte*)chunk) + (pa & ChunkOffsetMask);
    }

    /// <summary>A host pointer for writing at <paramref name="pa"/>; backs the chunk on first use.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* WritePointer(ulong pa)
    {
        Debug.Assert(pa < MaxPhysicalAddress);
        nint chunk = _chunks[pa >> ChunkShift];
        if (chunk == 0) chunk = Materialize(pa >> ChunkShift);
        return (byte*)chunk + (pa & ChunkOffsetMask);
    }

    /// <summary>Host pointer of a page table at <paramref name="tablePa"/> for a walker that only reads.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong* TableForRead(ulong tablePa) => (ulong*)ReadPointer(tablePa);

    /// <summary>Host pointer of a page table at <paramref name="tablePa"/> for code that edits it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong* TableForWrite(ulong tablePa) => (ulong*)WritePointer(tablePa);

    /// <summary>Copies physical memory into <paramref name="destination"/>, crossing chunks as needed.</summary>
    public void Read(ulong pa, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            int n = (int)Math.Min((ulong)destination.Length, ChunkSize - (pa & ChunkOffsetMask));
            new ReadOnlySpan<byte>(ReadPointer(pa), n).CopyTo(destination);
            destination = destination[n..];
            pa += (ulong)n;
        }
    }

    /// <summary>Copies <paramref name="source"/> into physical memory, crossing chunks as needed.</summary>
    public void Write(ulong pa, ReadOnlySpan<byte> source)
    {
        while (!source.IsEmpty)
        {
            int n = (int)Math.Min((ulong)source.Length, ChunkSize - (pa & ChunkOffsetMask));
            source[..n].CopyTo(new Span<byte>(WritePointer(pa), n));
            source = source[n..];
            pa += (ulong)n;
        }
    }

    /// <summary>Fills <paramref name="length"/> bytes at <paramref name="pa"/> with <paramref name="value"/>.
    /// Zero-filling a chunk that was never written costs nothing: it already reads as zero.</summary>
    public void Fill(ulong pa, ulong length, byte value)
    {
        while (length != 0)
        {
            ulong n = Math.Min(length, ChunkSize - (pa & ChunkOffsetMask));
            if (value != 0 || IsBacked(pa))
                NativeMemory.Fill(WritePointer(pa), (nuint)n, value);
            length -= n;
            pa += n;
        }
    }

    /// <summary>Gives back to the host every chunk lying entirely inside [pa, pa + length): used when memory is
    /// hot-removed, after every cached translation of it was flushed.</summary>
    public void Release(ulong pa, ulong length)
    {
        ulong first = (pa + ChunkOffsetMask) >> ChunkShift;
        ulong last = (pa + length) >> ChunkShift;
        for (ulong i = first; i < last; i++)
        {
            nint chunk = Interlocked.Exchange(ref _chunks[i], 0);
            if (chunk != 0) FreeChunk(chunk);
        }
    }

    private nint Materialize(ulong index)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        void* block = NativeMemory.AlignedAlloc((nuint)ChunkSize, (nuint)ChunkSize);
        if (_adviseHugePages) _ = Madvise(block, (nuint)ChunkSize, MadvHugePage);
        NativeMemory.Clear(block, (nuint)ChunkSize);
        nint existing = Interlocked.CompareExchange(ref _chunks[index], (nint)block, 0);
        if (existing != 0)
        {
            NativeMemory.AlignedFree(block);
            return existing;
        }
        ulong page = index >> 9;
        Interlocked.Or(ref _touched[page >> 6], 1UL << (int)(page & 63));
        Interlocked.Increment(ref _liveChunks);
        Interlocked.Increment(ref s_liveChunksProcess);
        return (nint)block;
    }

    private void FreeChunk(nint chunk)
    {
        NativeMemory.AlignedFree((void*)chunk);
        Interlocked.Decrement(ref _liveChunks);
        Interlocked.Decrement(ref s_liveChunksProcess);
    }

    private static void EnsureZeroChunk()
    {
        if (s_zeroChunk != null) return;
        lock (s_zeroLock)
        {
            if (s_zeroChunk != null) return;
            var zero = (byte*)NativeMemory.AlignedAlloc((nuint)ChunkSize, (nuint)ChunkSize);
            NativeMemory.Clear(zero, (nuint)ChunkSize);
            s_zeroChunk = zero;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        for (ulong word = 0; word < _touchedWords; word++)
        {
            for (ulong bits = _touched[word]; bits != 0; bits &= bits - 1)
            {
                ulong page = word * 64 + (ulong)System.Numerics.BitOperations.TrailingZeroCount(bits);
                ulong end = Math.Min((page + 1) * 512, _chunkCount);
                for (ulong i = page * 512; i < end; i++)
                {
                    nint chunk = _chunks[i];
                    if (chunk == 0) continue;
                    _chunks[i] = 0;
                    FreeChunk(chunk);
                }
            }
        }
        NativeMemory.Free(_touched);
        NativeMemory.Free(_chunks);
    }

    private const int MadvHugePage = 14;

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
