using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;

namespace FastPt.Cli.KernelCheck;

/// <summary>While it lives, SIGINT (Ctrl+C), SIGTERM, SIGHUP and SIGQUIT do not end the process: they cancel
/// <see cref="Token"/>, so that the work stops at its next step and restores what it changed before the process
/// exits. Every signal is held, not only the first: a second Ctrl+C must not kill a process that is writing the
/// settings back (only SIGKILL can, and then the values to write back by hand were printed first).</summary>
internal sealed class InterruptGuard : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<PosixSignalRegistration> _registrations = [];
    private string? _signal;

    public InterruptGuard()
    {
        foreach ((PosixSignal signal, string name) in new[]
        {
            (PosixSignal.SIGINT, "SIGINT (Ctrl+C)"), (PosixSignal.SIGTERM, "SIGTERM"), (PosixSignal.SIGHUP, "SIGHUP"), (PosixSignal.SIGQUIT, "SIGQUIT"),
        })
        {
            try
            {
                _registrations.Add(PosixSignalRegistration.Create(signal, context =>
                {
                    context.Cancel = true;
                    // Named before the cancel, so whoever sees the token cancelled reads the name (Cancel is a full fence).
                    Interlocked.CompareExchange(ref _signal, name, null);
                    try
                    {
                        _stop.Cancel();
                    }
                    catch (ObjectDisposedException)
                    {
                        // A signal that raced with Dispose: the guarded work is over.
                    }
                }));
            }
            catch (PlatformNotSupportedException)
            {
                // No such signal on this platform: nothing to guard against.
            }
        }
    }

    /// <summary>Cancelled by the first signal.</summary>
    public CancellationToken Token => _stop.Token;

    /// <summary>The first signal received, null while none came.</summary>
    public string? Signal => Volatile.Read(ref _signal);

    /// <summary>Gives the signals their usual meaning back.</summary>
    public void Dispose()
    {
        foreach (PosixSignalRegistration registration in _registrations) registration.Dispose();
        _stop.Dispose();
    }
}
