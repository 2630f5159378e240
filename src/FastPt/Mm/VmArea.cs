using System.Runtime.InteropServices;
using System.Threading;
using FastPt.Geometry;

namespace FastPt.Mm;

/// <summary>An anonymous region (<c>struct vm_area_struct</c> of a <c>MAP_ANONYMOUS | MAP_PRIVATE</c> mapping):
/// [<see cref="Start"/>, <see cref="End"/>) with its rights and options; frames arrive with the first touch of each
/// page. Immutable in its bounds: a change replaces it in the tree by new regions and detaches it. Its lock is the
/// kernel's per-VMA lock: a fault holds it for reading from lookup to install, a range operation takes it for
/// writing (waiting for faults in flight) before it touches the region's tables.</summary>
internal sealed class VmArea
{
    private const int WriteLocked = 1 << 30;
    private const int Detached = 1 << 29;
    private const int ReaderMask = Detached - 1;

    // Readers in flight, plus the two flags. Every change is an interlocked operation on this one word, which
    // sits on a cache line of its own: regions are allocated next to each other, and faults in two neighbours
    // would otherwise bounce one line between their CPUs.
    private PaddedState _state;

    [StructLayout(LayoutKind.Explicit, Size = 192)]
    private struct PaddedState
    {
        [FieldOffset(64)] public int Value;
    }

    public VmArea(ulong start, ulong end, Protection protection, AnonymousOptions options)
    {
        Start = start;
        End = end;
        Protection = protection;
        Options = options;
    }

    public ulong Start { get; }

    /// <summary>Exclusive end; 0 for a region that ends at 2^64 (the top page of a guest's higher half), so every
    /// comparison goes through <see cref="Last"/>.</summary>
    public ulong End { get; }

    /// <summary>The region's last byte (inclusive): never wraps.</summary>
    public ulong Last => End - 1;

    public Protection Protection { get; }

    public AnonymousOptions Options { get; }

    public bool TransparentHugePages => (Options & AnonymousOptions.TransparentHugePages) != 0;

    public bool ZeroPage => (Options & AnonymousOptions.ZeroPage) != 0;

    /// <summary>The same region over other bounds (a piece left by a split).</summary>
    public VmArea Slice(ulong start, ulong end) => new(start, end, Protection, Options);

    /// <summary>True when <paramref name="access"/> is allowed by the region's rights (write and execute imply read).</summary>
    public bool Allows(AccessKind access) => access switch
    {
        AccessKind.Read => (Protection & Protection.Read) != 0,
        AccessKind.Write => (Protection & Protection.Write) != 0,
        _ => (Protection & Protection.Execute) != 0,
    };

    /// <summary>True when the 2 MiB block holding <paramref name="va"/> lies inside the region and the region asks
    /// for transparent huge pages (<c>thp_vma_suitable_order</c>).</summary>
    public bool HugePageFits(ulong va)
    {
        ulong block = Paging.AlignDown(va, Paging.PmdSize);
        return TransparentHugePages && block >= Start && block + (Paging.PmdSize - 1) <= Last;
    }

    /// <summary><c>vma_start_read</c>: enters as a reader unless a range operation holds the region or it was
    /// replaced. The compare-exchange orders the reader's page-table accesses after it, and
    /// <see cref="EndRead"/>'s decrement orders them before the writer sees zero readers.</summary>
    public bool TryStartRead()
    {
        int state = Volatile.Read(ref _state.Value);
        while ((state & (WriteLocked | Detached)) == 0)
        {
            int seen = Interlocked.CompareExchange(ref _state.Value, state + 1, state);
            if (seen == state) return true;
            state = seen;
        }
        return false;
    }

    /// <summary><c>vma_end_read</c>.</summary>
    public void EndRead() => Interlocked.Decrement(ref _state.Value);

    /// <summary><c>vma_start_write</c> (under the mmap lock): no new reader gets in, and the call returns once the
    /// readers in flight have left. Readers never wait for anything the writer holds (the mmap lock), so this
    /// terminates.</summary>
    public void StartWrite()
    {
        Interlocked.Or(ref _state.Value, WriteLocked);
        var spin = new SpinWait();
        while ((Volatile.Read(ref _state.Value) & ReaderMask) != 0) spin.SpinOnce(sleep1Threshold: -1);
    }

    /// <summary>Ends a write lock that changed nothing about the region (a refused operation).</summary>
    public void EndWrite() => Interlocked.And(ref _state.Value, ~WriteLocked);

    /// <summary>The region was replaced (<c>vma_mark_detached</c>): a fault that still holds a reference fails to
    /// start reading and looks the address up again.</summary>
    public void Detach() => Interlocked.Or(ref _state.Value, Detached);

    public override string ToString() => $"[0x{Start:x}, 0x{Last:x}] {Protection} {Options}";
}
