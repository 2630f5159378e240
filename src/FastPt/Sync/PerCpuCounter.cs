using System.Runtime.CompilerServices;
using System.Threading;

namespace FastPt.Sync;

/// <summary>A counter split over the CPU slots (<c>percpu_counter</c>, as Linux keeps <c>vm_event</c> counts and an
/// mm's RSS): each thread adds to its slot's cell, a cache line of its own, so that counting on several CPUs does not
/// bounce one line between them; a read sums the cells. Every add is atomic (slots can be shared), so the sum is
/// exact whenever no add is in flight, and never loses one.</summary>
internal sealed class PerCpuCounter
{
    // One cell every 16 longs (128 bytes: the adjacent-line prefetcher pairs 64-byte lines).
    private const int Stride = 16;
    private readonly long[] _cells = new long[(PerCpu.Slots + 1) * Stride];

    /// <summary>Adds <paramref name="delta"/> on the calling thread's cell.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(long delta) => Interlocked.Add(ref _cells[(PerCpu.Current + 1) * Stride], delta);

    /// <summary>The sum of every cell.</summary>
    public long Value
    {
        get
        {
            long sum = 0;
            for (int i = 1; i <= PerCpu.Slots; i++) sum += Volatile.Read(ref _cells[i * Stride]);
            return sum;
        }
    }
}
