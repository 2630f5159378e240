using System;
using System.Threading;

namespace FastPt.Hardware;

/// <summary>One published invalidation: what to drop from every TLB attached to the domain.</summary>
internal readonly record struct FlushRequest(ulong Start, ulong End, FlushKind Kind, bool TablesFreed);

/// <summary>The invalidation channel of one address space (or of the kernel): the software equivalent of the
/// shootdown IPIs of <c>flush_tlb_mm_range</c>. A flush is published as a request numbered by a generation;
/// every CPU context compares its acknowledged generation with the domain's before each translation and applies
/// what it missed (or flushes everything when it fell too far behind).</summary>
internal sealed class FlushDomain
{
    /// <summary>Requests kept for contexts that are behind; older ones are replaced by a full flush.</summary>
    public const int RingSize = 64;

    private readonly FlushRequest[] _ring = new FlushRequest[RingSize];
    private readonly Lock _publishLock = new();
    private long _generation;
    private long _published;

    /// <summary>Generation of the newest published request (0 = none).</summary>
    public long Generation => Volatile.Read(ref _generation);

    /// <summary>Requests published so far.</summary>
    public long Published => Volatile.Read(ref _published);

    /// <summary>Publishes a request and returns its generation.</summary>
    public long Publish(in FlushRequest request)
    {
        lock (_publishLock)
        {
            long next = _generation + 1;
            _ring[next % RingSize] = request;
            _published++;
            Volatile.Write(ref _generation, next);
            return next;
        }
    }

    /// <summary>Reads request <paramref name="generation"/>. Returns false when it was already overwritten (the
    /// reader must then flush everything).</summary>
    public bool TryRead(long generation, out FlushRequest request)
    {
        request = _ring[generation % RingSize];
        Interlocked.MemoryBarrier();
        return Volatile.Read(ref _generation) - generation < RingSize;
    }
}
