/**
 * The numbers of the two capture file formats, shared by the writer and the reader: pcapng
 * (draft-ietf-opsawg-pcapng: blocks, options) and classic pcap (pcap-savefile(5): a 24-byte file
 * header, then a 16-byte header per record), and the error a malformed file gets.
 */

/** pcapng block types. */
export const BLOCK = {
  SECTION_HEADER: 0x0a0d0d0a,
  INTERFACE_DESCRIPTION: 0x00000001,
  /** Obsolete Packet Block, still read. */
  PACKET: 0x00000002,
  SIMPLE_PACKET: 0x00000003,
  INTERFACE_STATISTICS: 0x00000005,
  ENHANCED_PACKET: 0x00000006,
} as const;

export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** Option codes (opt_comment and opt_endofopt are common to every block). */
export const OPTION = {
  END: 0,
  COMMENT: 1,
  SHB_USERAPPL: 4,
  IF_NAME: 2,
  IF_TSRESOL: 9,
  IF_TSOFFSET: 14,
  ISB_STARTTIME: 2,
  ISB_ENDTIME: 3,
  ISB_IFRECV: 4,
  ISB_IFDROP: 5,
  ISB_OSDROP: 7,
  ISB_USRDELIV: 8,
} as const;

/** Classic pcap magic numbers, as read in the file's own byte order. */
export const PCAP_MAGIC = {
  MICROSECONDS: 0xa1b2c3d4,
  NANOSECONDS: 0xa1b23c4d,
  /** Alexey Kuznetzov's modified pcap: 8 more bytes per record header. */
  MODIFIED: 0xa1b2cd34,
} as const;

/** The largest block (or record) the reader accepts before allocating anything for it. */
export const DEFAULT_MAX_BLOCK_BYTES = 16 * 1024 * 1024;

/** Default snap length: tcpdump's (MAXIMUM_SNAPLEN). */
export const DEFAULT_SNAPLEN = 262144;

/**
 * A capture file that is not valid pcap or pcapng. `offset` is the byte where the bad block or
 * record starts (or the bad field is); `code` is always `ERR_MCAST_BAD_CAPTURE`.
 */
export class CaptureFormatError extends Error {
  /** Always `ERR_MCAST_BAD_CAPTURE`. */
  readonly code = 'ERR_MCAST_BAD_CAPTURE';
  constructor(
    message: string,
    /** Byte offset in the file of the block, record or field that is wrong. */
    readonly offset: number,
  ) {
    super(message);
    this.name = 'CaptureFormatError';
  }
}
