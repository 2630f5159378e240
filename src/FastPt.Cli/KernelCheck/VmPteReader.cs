using System;
using System.IO;
using Microsoft.Win32.SafeHandles;

namespace FastPt.Cli.KernelCheck;

/// <summary>Reads VmPTE from /proc/self/status: the kernel's <c>mm_pgtables_bytes</c> of this process in KiB, the
/// bytes of its PTE, PMD and PUD tables. One handle and one buffer, re-read with pread at offset 0 (the kernel
/// regenerates the text), so a reading allocates nothing and maps nothing.</summary>
internal sealed class VmPteReader : IDisposable
{
    public const string StatusPath = "/proc/self/status";

    private static ReadOnlySpan<byte> Key => "\nVmPTE:"u8;

    private readonly SafeFileHandle _status;
    private readonly byte[] _buffer = new byte[16 * 1024];

    private VmPteReader(SafeFileHandle status) => _status = status;

    /// <summary>Opens the status file and takes one reading; null with the reason when the file cannot be read or
    /// has no VmPTE line.</summary>
    public static VmPteReader? TryOpen(out string reason)
    {
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(StatusPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            reason = $"cannot read {StatusPath}: {exception.Message}";
            return null;
        }
        var reader = new VmPteReader(handle);
        if (!reader.TryRead(out _))
        {
            reader.Dispose();
            reason = $"{StatusPath} has no VmPTE line, so the kernel's page-table bytes cannot be read";
            return null;
        }
        reason = "";
        return reader;
    }

    /// <summary>The current VmPTE in KiB.</summary>
    public long ReadKiB() =>
        TryRead(out long kib) ? kib : throw new InvalidOperationException($"{StatusPath} stopped showing VmPTE.");

    private bool TryRead(out long kib)
    {
        kib = 0;
        int length = RandomAccess.Read(_status, _buffer, 0);
        ReadOnlySpan<byte> text = _buffer.AsSpan(0, length);
        int at = text.IndexOf(Key);
        if (at < 0) return false;
        text = text[(at + Key.Length)..];
        int i = 0;
        while (i < text.Length && (text[i] == (byte)' ' || text[i] == (byte)'\t')) i++;
        int digits = 0;
        long value = 0;
        while (i < text.Length && text[i] >= (byte)'0' && text[i] <= (byte)'9')
        {
            value = value * 10 + (text[i] - '0');
            i++;
            digits++;
        }
        kib = value;
        return digits > 0;
    }

    public void Dispose() => _status.Dispose();
}
