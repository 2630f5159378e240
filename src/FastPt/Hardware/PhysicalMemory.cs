using System;
using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using FastPt.Geometry;
using FastPt.Internals;

namespace FastPt.Hardware;

/// <summary>The simulated machine's RAM. Host memory comes in one arena per 128 MiB section, reserved on first use
/// from <see cref="NativeMemory.AllocZeroed(nuint)"/>: zero by contract, and (large allocations being fresh
/// anonymous mappings) committed by the host only where something is actually written. Nothing here ever writes
/// memory the host already gives as zero, so a simulated terabyte costs what is touched. <c>pa → host pointer</c>
/// is one table load.</summary>
/// <remarks>Each arena carries a bitmap of its 4 KiB frames that may hold data: a frame's bit is set when a write
/// pointer to it is handed out (<see cref="WritePointer(ulong)"/>) and cleared when the frame is zero-filled whole
/// (except by <see cref="ClearUserPage"/>, whose caller writes it next: the bit means "may hold data"), so zeroing
/// a frame whose bit is clear writes nothing (it reads as zero), and handing out a never-written frame costs no host
/// page fault even when its neighbours were written. Host usage is accounted per 2 MiB chunk written
/// (an upper bound of what the host committed): a chunk counts once anything wrote into it. The contract for
/// callers: write only through a pointer obtained for the frame written (or for the range, with
/// <see cref="WritePointer(ulong, ulong)"/>).</remarks>
internal sealed unsafe partial class PhysicalMemory : IDisposable
{
    public const int ArenaShift = 27;
    public const ulong ArenaSize = 1UL << ArenaShift;
    private const ulong ArenaOffsetMask = ArenaSize - 1;
    public const int ChunkShift = 21;
    public const ulong ChunkSize = 1UL << ChunkShift;
    private const ulong HostAlignment = 2UL << 20;
    // One bit per 4 KiB frame of an arena, kept right after it in the same host allocation.
    private const ulong FrameBitmapBytes = (ArenaSize >> 12) / 8;

    private static long s_liveArenasProcess;

    private readonly nint* _arenas;     // aligned arena base per section, 0 = none yet
    private readonly nint* _rawArenas;  // what AllocZeroed returned, for Free
    private readonly ulong* _written;   // one bit per 2 MiB chunk written
    private readonly ulong _arenaCount;
    private readonly bool _adviseHugePages;
    private long _liveArenas;
    private long _writtenChunks;
    private int _disposed;

    public PhysicalMemory(ulong maxPhysicalAddress, bool adviseHugePages)
    {
        if (maxPhysicalAddress == 0 || (maxPhysicalAddress & ArenaOffsetMask) != 0)
            throw new ArgumentOutOfRangeException(nameof(maxPhysicalAddress), "must be a non-zero multiple of 128 MiB");
        MaxPhysicalAddress = maxPhysicalAddress;
        MaxPfn = maxPhysicalAddress >> 12;
        _arenaCount = maxPhysicalAddress >> ArenaShift;
        _arenas = (nint*)NativeMemory.AllocZeroed((nuint)_arenaCount, (nuint)sizeof(nint));
        _rawArenas = (nint*)NativeMemory.AllocZeroed((nuint)_arenaCount, (nuint)sizeof(nint));
        _written = (ulong*)NativeMemory.AllocZeroed((nuint)((maxPhysicalAddress >> ChunkShift) + 63) / 64, sizeof(ulong));
        _adviseHugePages = adviseHugePages && OperatingSystem.IsLinux();
    }

    /// <summary>Exclusive upper bound of physical addresses.</summary>
    public ulong MaxPhysicalAddress { get; }

    /// <summary>Exclusive upper bound of frame numbers.</summary>
    public ulong MaxPfn { get; }

    /// <summary>Host arenas (one per 128 MiB section touched) reserved now: address space, not memory.</summary>
    public long LiveArenas => Volatile.Read(ref _liveArenas);

    /// <summary>Host arenas reserved by every <see cref="PhysicalMemory"/> in the process.</summary>
    public static long LiveArenasInProcess => Volatile.Read(ref s_liveArenasProcess);

    /// <summary>2 MiB chunks something wrote into.</summary>
    public long WrittenChunks => Volatile.Read(ref _writtenChunks);

    /// <summary>Host bytes written into (2 MiB per chunk written): an upper bound of the memory the host committed.</summary>
    public long HostBytes => WrittenChunks * (long)ChunkSize;

    /// <summary>True when something wrote into the 2 MiB chunk holding <paramref name="pa"/>; if not, it reads as zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsWritten(ulong pa)
    {
        ulong chunk = pa >> ChunkShift;
        return (_written[chunk >> 6] & (1UL << (int)(chunk & 63))) != 0;
    }

    /// <summary>True when the 4 KiB frame holding <paramref name="pa"/> may hold data: a write pointer to it was
    /// handed out since it was last zero-filled whole (or since the host gave it). If not, it reads as zero.</summary>
    public bool IsFrameWritten(ulong pa)
    {
        nint arena = _arenas[pa >> ArenaShift];
        if (arena == 0) return false;
        ulong frame = (pa & ArenaOffsetMask) >> 12;
        return (Volatile.Read(ref FrameBits(arena)[frame >> 6]) & (1UL << (int)(frame & 63))) != 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong* FrameBits(nint arena) => (ulong*)(arena + (nint)ArenaSize);

    /// <summary>A host pointer for reading at <paramref name="pa"/>. Reserves the section's arena on first use
    /// (address space only: reading untouched memory commits nothing).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* ReadPointer(ulong pa)
    {
        Debug.Assert(pa < MaxPhysicalAddress);
        nint arena = _arenas[pa >> ArenaShift];
        if (arena == 0) arena = CreateArena(pa >> ArenaShift);
        return (byte*)arena + (pa & ArenaOffsetMask);
    }

    /// <summary>The host pointer of <paramref name="pa"/> when its section's arena is reserved, else null: for the
    /// TLB refill, which must neither allocate nor throw inside its busy window (the general path reserves it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* PeekPointer(ulong pa)
    {
        Debug.Assert(pa < MaxPhysicalAddress);
        return PeekPointer(_arenas, pa);
    }

    /// <summary>The arena table (one host base per section, 0 while unreserved). Its address is fixed for the
    /// machine's life, so the refill keeps a copy and reaches a host pointer in one dependent load, not two (this
    /// object, then its table): <see cref="PeekPointer(nint*, ulong)"/>, <see cref="PeekWritePointer(nint*, ulong)"/>.
    /// Valid until <see cref="Dispose"/>, like every pointer this class hands out.</summary>
    internal nint* Arenas => _arenas;

    /// <summary><see cref="PeekPointer(ulong)"/> through a copy of <see cref="Arenas"/> (the caller has checked
    /// that <paramref name="pa"/> is below <see cref="MaxPhysicalAddress"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* PeekPointer(nint* arenas, ulong pa)
    {
        nint arena = arenas[pa >> ArenaShift];
        return arena == 0 ? null : (byte*)arena + (pa & ArenaOffsetMask);
    }

    /// <summary>What <see cref="WritePointer(ulong)"/> returns when the frame of <paramref name="pa"/> is already
    /// marked as holding data (so it would change nothing), else null: the refill's write pointer, with no side
    /// effect (the first write pointer to a frame is the general path's).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* PeekWritePointer(ulong pa)
    {
        Debug.Assert(pa < MaxPhysicalAddress);
        return PeekWritePointer(_arenas, pa);
    }

    /// <summary><see cref="PeekWritePointer(ulong)"/> through a copy of <see cref="Arenas"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* PeekWritePointer(nint* arenas, ulong pa)
    {
        nint arena = arenas[pa >> ArenaShift];
        if (arena == 0) return null;
        ulong offset = pa & ArenaOffsetMask;
        ulong frame = offset >> 12;
        return (FrameBits(arena)[frame >> 6] & (1UL << (int)(frame & 63))) != 0 ? (byte*)arena + offset : null;
    }

    /// <summary>A host pointer for writing inside the 4 KiB frame of <paramref name="pa"/>: marks the frame as
    /// holding data and accounts its chunk as written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* WritePointer(ulong pa)
    {
        Debug.Assert(pa < MaxPhysicalAddress);
        nint arena = _arenas[pa >> ArenaShift];
        if (arena == 0) arena = CreateArena(pa >> ArenaShift);
        ulong offset = pa & ArenaOffsetMask;
        ulong frame = offset >> 12;
        ulong* word = FrameBits(arena) + (frame >> 6);
        ulong bit = 1UL << (int)(frame & 63);
        if ((*word & bit) == 0) MarkFrame(pa, word, bit);
        return (byte*)arena + offset;
    }

    /// <summary>A host pointer for writing anywhere in [<paramref name="pa"/>, <paramref name="pa"/> +
    /// <paramref name="length"/>), which must lie inside one arena (a TLB entry of a 2 MiB leaf, a copy): marks
    /// every frame of the range.</summary>
    public byte* WritePointer(ulong pa, ulong length)
    {
        Debug.Assert(length != 0 && (pa & ArenaOffsetMask) + length <= ArenaSize);
        byte* host = WritePointer(pa);
        ulong end = pa + length;
        for (ulong chunk = (pa & ~(ChunkSize - 1)) + ChunkSize; chunk < end; chunk += ChunkSize)
            if (!IsWritten(chunk)) MarkWritten(chunk);
        ulong* bits = FrameBits(_arenas[pa >> ArenaShift]);
        ulong first = (pa & ArenaOffsetMask) >> 12, last = ((end - 1) & ArenaOffsetMask) >> 12;
        for (ulong f = first; f <= last;)
        {
            int low = (int)(f & 63);
            ulong count = Math.Min(64 - (ulong)low, last - f + 1);
            ulong mask = (count == 64 ? ulong.MaxValue : (1UL << (int)count) - 1) << low;
            ref ulong word = ref bits[f >> 6];
            // The plain read only skips the locked instruction; a bit is set with a full fence before the caller writes.
            if ((word & mask) != mask) Interlocked.Or(ref word, mask);
            f += count;
        }
        return host;
    }

    /// <summary>First write pointer to a frame since it was zero: set its bit (a full fence, before the caller
    /// writes; whoever zero-fills the frame next takes it from the allocator after the writer gave it back, under
    /// the allocator's lock, so sees the bit) and account its chunk.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void MarkFrame(ulong pa, ulong* word, ulong bit)
    {
        Interlocked.Or(ref *word, bit);
        if (!IsWritten(pa)) MarkWritten(pa);
    }

    /// <summary>Host pointer of a page table at <paramref name="tablePa"/> for a walker that only reads.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong* TableForRead(ulong tablePa) => (ulong*)ReadPointer(tablePa);

    /// <summary>Host pointer of a page table at <paramref name="tablePa"/> for code that edits it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong* TableForWrite(ulong tablePa) => (ulong*)WritePointer(tablePa);

    /// <summary>Copies physical memory into <paramref name="destination"/>.</summary>
    public void Read(ulong pa, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            int n = (int)Math.Min((ulong)destination.Length, ArenaSize - (pa & ArenaOffsetMask));
            new ReadOnlySpan<byte>(ReadPointer(pa), n).CopyTo(destination);
            destination = destination[n..];
            pa += (ulong)n;
        }
    }

    /// <summary>Copies <paramref name="source"/> into physical memory.</summary>
    public void Write(ulong pa, ReadOnlySpan<byte> source)
    {
        while (!source.IsEmpty)
        {
            int n = (int)Math.Min((ulong)source.Length, ChunkSize - (pa & (ChunkSize - 1)));
            source[..n].CopyTo(new Span<byte>(WritePointer(pa, (ulong)n), n));
            source = source[n..];
            pa += (ulong)n;
        }
    }

    /// <summary>Fills <paramref name="length"/> bytes at <paramref name="pa"/> with <paramref name="value"/>.
    /// Zero-filling writes only the frames that may hold data (a frame nothing wrote already reads as zero, and
    /// writing it would make the host fault it in); a frame zeroed whole is known zero again.</summary>
    public void Fill(ulong pa, ulong length, byte value)
    {
        while (length != 0)
        {
            ulong n = Math.Min(length, ArenaSize - (pa & ArenaOffsetMask));
            if (value != 0) NativeMemory.Fill(WritePointer(pa, n), (nuint)n, value);
            else Zero(pa, n);
            length -= n;
            pa += n;
        }
    }

    /// <summary>Zeroes the 4 KiB frame at <paramref name="pa"/> for a user mapping that is about to be written
    /// (<c>clear_user_highpage</c> of <c>do_anonymous_page</c>): a frame that may hold data is cleared and keeps its
    /// bit, a frame known zero is not touched. Unlike <see cref="Fill"/>, the bitmap word is only read: the write
    /// that follows would set the bit again, and one word covers 64 frames, which CPUs faulting in neighbouring
    /// frames share — clearing and setting it would be two locked instructions on a cache line those CPUs bounce
    /// between them on every fault. A set bit on a zero frame is the safe direction ("may hold data": the next
    /// zeroing clears it for real).</summary>
    public void ClearUserPage(ulong pa)
    {
        Debug.Assert((pa & (Paging.PageSize - 1)) == 0 && pa < MaxPhysicalAddress);
        nint arena = _arenas[pa >> ArenaShift];
        if (arena == 0) return; // never reserved: all zero
        ulong frame = (pa & ArenaOffsetMask) >> 12;
        // The frame was taken from the allocator after its last writer gave it back (under a lock), so this read
        // sees that writer's bit; nobody else writes the frame while the caller owns it.
        if ((Volatile.Read(ref FrameBits(arena)[frame >> 6]) & (1UL << (int)(frame & 63))) == 0) return;
        NativeMemory.Clear((byte*)arena + (long)(pa & ArenaOffsetMask), (nuint)Paging.PageSize);
    }

    /// <summary>Zero-fills [pa, pa + length) inside one arena, frame by frame as the bitmap says.</summary>
    private void Zero(ulong pa, ulong length)
    {
        nint arena = _arenas[pa >> ArenaShift];
        if (arena == 0) return; // never reserved: all zero
        ulong* bits = FrameBits(arena);
        ulong end = pa + length;
        ulong wholeStart = (pa + Paging.PageSize - 1) & Paging.PageMask, wholeEnd = end & Paging.PageMask;
        if (wholeStart >= wholeEnd)
        {
            ZeroPart(arena, pa, end);
            return;
        }
        ZeroPart(arena, pa, wholeStart);
        ZeroPart(arena, wholeEnd, end);
        // stop counts from first, not from wholeEnd's offset: a range ending at the arena's end has offset 0 there.
        ulong first = (wholeStart & ArenaOffsetMask) >> 12, stop = first + ((wholeEnd - wholeStart) >> 12);
        for (ulong f = first; f < stop;)
        {
            int low = (int)(f & 63);
            ulong count = Math.Min(64 - (ulong)low, stop - f);
            ulong mask = (count == 64 ? ulong.MaxValue : (1UL << (int)count) - 1) << low;
            ref ulong word = ref bits[f >> 6];
            ulong dirty = Volatile.Read(ref word) & mask;
            for (ulong left = dirty; left != 0;)
            {
                // One clear per run of frames that may hold data.
                int at = BitOperations.TrailingZeroCount(left);
                ulong shifted = left >> at;
                int run = shifted == ulong.MaxValue ? 64 : BitOperations.TrailingZeroCount(~shifted);
                NativeMemory.Clear((byte*)arena + (long)((((f >> 6) << 6) + (ulong)at) << 12), (nuint)run << 12);
                left &= run == 64 ? 0 : ~(((1UL << run) - 1) << at);
            }
            // After the clears: the frames read zero now. The caller owns them, so no writer races this.
            if (dirty != 0) Interlocked.And(ref word, ~dirty);
            f += count;
        }
    }

    /// <summary>Zeroes part of one frame if the frame may hold data; its bit stays (the rest may too).</summary>
    private static void ZeroPart(nint arena, ulong from, ulong to)
    {
        if (from >= to) return;
        ulong frame = (from & ArenaOffsetMask) >> 12;
        if ((Volatile.Read(ref FrameBits(arena)[frame >> 6]) & (1UL << (int)(frame & 63))) == 0) return;
        NativeMemory.Clear((byte*)arena + (long)(from & ArenaOffsetMask), (nuint)(to - from));
    }

    /// <summary>Gives the host memory behind [pa, pa + length) back (hot-remove), after every cached translation
    /// of it was flushed. Whole sections lose their arena; other whole 2 MiB chunks are discarded with
    /// <c>MADV_DONTNEED</c> on Linux (they read as zero afterwards) or zeroed elsewhere.</summary>
    public void Release(ulong pa, ulong length)
    {
        ulong end = pa + length;
        for (ulong at = (pa + ChunkSize - 1) & ~(ChunkSize - 1); at + ChunkSize <= end;)
        {
            ulong section = at >> ArenaShift;
            if ((at & ArenaOffsetMask) == 0 && at + ArenaSize <= end)
            {
                FreeArena(section);
                for (ulong c = at; c < at + ArenaSize; c += ChunkSize) ClearWritten(c);
                at += ArenaSize;
                continue;
            }
            if (IsWritten(at) && _arenas[section] != 0)
            {
                byte* host = (byte*)_arenas[section] + (at & ArenaOffsetMask);
                if (!OperatingSystem.IsLinux() || Madvise(host, (nuint)ChunkSize, MadvDontNeed) != 0)
                    NativeMemory.Clear(host, (nuint)ChunkSize);
                // The chunk's 512 frames read zero now: eight whole words of the bitmap.
                ulong* bits = FrameBits(_arenas[section]) + (((at & ArenaOffsetMask) >> 12) >> 6);
                for (int w = 0; w < (int)(ChunkSize >> 12) / 64; w++) Volatile.Write(ref bits[w], 0);
            }
            ClearWritten(at);
            at += ChunkSize;
        }
    }

    private void MarkWritten(ulong pa)
    {
        ulong chunk = pa >> ChunkShift;
        ulong bit = 1UL << (int)(chunk & 63);
        if ((Interlocked.Or(ref _written[chunk >> 6], bit) & bit) == 0) Interlocked.Increment(ref _writtenChunks);
    }

    private void ClearWritten(ulong pa)
    {
        ulong chunk = pa >> ChunkShift;
        ulong bit = 1UL << (int)(chunk & 63);
        if ((Interlocked.And(ref _written[chunk >> 6], ~bit) & bit) != 0) Interlocked.Decrement(ref _writtenChunks);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private nint CreateArena(ulong section)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (section >= _arenaCount) ThrowHelper.ThrowArgumentOutOfRange(nameof(section), "physical address beyond the machine's width");
        // Over-allocate so that the arena can start on a 2 MiB boundary (where the host can use huge pages).
        // The frame bitmap follows the aligned arena: aligned - raw < HostAlignment leaves it inside the allocation.
        void* raw = NativeMemory.AllocZeroed((nuint)(ArenaSize + HostAlignment + FrameBitmapBytes));
        nint aligned = (nint)(((ulong)raw + HostAlignment - 1) & ~(HostAlignment - 1));
        if (Interlocked.CompareExchange(ref _arenas[section], aligned, 0) != 0)
        {
            NativeMemory.Free(raw);
            return _arenas[section];
        }
        _rawArenas[section] = (nint)raw;
        if (_adviseHugePages) _ = Madvise((void*)aligned, (nuint)ArenaSize, MadvHugePage);
        Interlocked.Increment(ref _liveArenas);
        Interlocked.Increment(ref s_liveArenasProcess);
        return aligned;
    }

    private void FreeArena(ulong section)
    {
        nint raw = Interlocked.Exchange(ref _rawArenas[section], 0);
        _arenas[section] = 0;
        if (raw == 0) return;
        NativeMemory.Free((void*)raw);
        Interlocked.Decrement(ref _liveArenas);
        Interlocked.Decrement(ref s_liveArenasProcess);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        for (ulong s = 0; s < _arenaCount; s++)
            if (_rawArenas[s] != 0) FreeArena(s);
        Volatile.Write(ref _writtenChunks, 0);
        NativeMemory.Free(_written);
        NativeMemory.Free(_rawArenas);
        NativeMemory.Free(_arenas);
    }

    private const int MadvDontNeed = 4;
    private const int MadvHugePage = 14;

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
