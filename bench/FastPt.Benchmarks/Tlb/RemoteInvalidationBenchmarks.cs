using System;
using System.Threading;
using BenchmarkDotNet.Attributes;

namespace FastPt.Benchmarks.Tlb;

/// <summary>The cost of one invalidation round: taking write access away from a page (a flush that must reach
/// every CPU context before the protect returns) with no other context (the baseline) and with a second thread
/// translating in a loop on its own context (a synced, remote invalidation). Each benchmark call is a downgrade and
/// an upgrade; only the downgrade flushes.</summary>
public class RemoteInvalidationBenchmarks : IDisposable
{
    private const ulong Region = 0x40_0000_0000;

    private Machine _machine = null!;
    private AddressSpace _space = null!;
    private Thread? _remote;
    private volatile bool _stop;
    private long _remoteTranslations;

    /// <summary>With a remote translating thread or not.</summary>
    [Params(false, true)]
    public bool RemoteContext { get; set; }

    /// <summary>Maps a page and, when asked, starts the remote thread.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _machine = new Machine(new MachineOptions { MemorySize = 2UL << 30 });
        _space = _machine.CreateAddressSpace();
        _space.Map(new VirtAddr(Region), _machine.AllocatePhysical(8192), 8192, Protection.ReadWrite);
        if (!RemoteContext) return;
        using var ready = new ManualResetEventSlim();
        _remote = new Thread(() =>
        {
            using MmuContext context = _space.CreateContext();
            ready.Set();
            long n = 0;
            while (!_stop)
            {
                context.TryTranslate(new VirtAddr(Region + 4096), AccessKind.Read, out _);
                n++;
            }
            Interlocked.Add(ref _remoteTranslations, n);
        })
        { IsBackground = true };
        _remote.Start();
        ready.Wait();
    }

    /// <summary>A downgrade (flushed, synced with every context) and an upgrade (not flushed).</summary>
    [Benchmark]
    public long ProtectRound()
    {
        _space.Protect(new VirtAddr(Region), 4096, Protection.Read);
        _space.Protect(new VirtAddr(Region), 4096, Protection.ReadWrite);
        return _space.FlushesPublished;
    }

    /// <summary>Stops the remote thread and frees the machine.</summary>
    [GlobalCleanup]
    public void Dispose()
    {
        _stop = true;
        _remote?.Join();
        _machine?.Dispose();
        GC.SuppressFinalize(this);
    }
}
