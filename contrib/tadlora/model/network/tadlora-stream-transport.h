// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_STREAM_TRANSPORT_H
#define TADLORA_STREAM_TRANSPORT_H

#include "tadlora-transport.h"

#include "ns3/node.h"
#include "ns3/socket.h"

namespace ns3
{

/**
 * @ingroup tadlora
 * @brief Records over TCP: one connection to each neighbour, dialled on its first record, each
 * record length-prefixed on the stream (tadlora-framing.h). A connection that fails or breaks
 * loses what it held; the next record dials again. Incoming connections are accepted on the
 * clients' port, and the records cut from them go to the receive callback.
 */
class TadLoraStreamTransport : public TadLoraTransport
{
public:
    /**
     * @param node the client's node
     * @param port the port every client listens on
     * @param peers each base-graph neighbour's address
     * @param hopLimit IP TTL of the connections; 0: the IP default
     * @param receive takes each record received
     */
    TadLoraStreamTransport(Ptr<Node> node, uint16_t port, std::map<uint32_t, Address> peers,
                           uint8_t hopLimit, ReceiveCallback receive);

    void Send(uint64_t round, std::optional<uint32_t> peer, Ptr<Packet> record,
              bool control) override;
    void DropUpTo(uint64_t round) override;
    void Stop() override;

private:
    /** @brief An outgoing connection and the bytes it has yet to take. */
    struct Stream
    {
        Ptr<Socket> socket;           //!< connecting or connected
        bool connected = false;       //!< the handshake completed
        std::vector<uint8_t> pending; //!< length-prefixed records not yet taken
    };

    /** @brief Dial a neighbour, for its stream. */
    void Connect(uint32_t peer, Stream& stream);
    /** @brief Hand a stream as many pending bytes as it takes. */
    void Flush(Stream& stream);
    void HandleAccept(Ptr<Socket> socket, const Address& from); //!< a connection from a peer
    void HandleStream(Ptr<Socket> socket);                      //!< bytes from a peer

    Ptr<Node> m_node;                                 //!< the client's node
    std::map<uint32_t, Address> m_peers;              //!< base-graph neighbours' addresses
    uint8_t m_hopLimit;                               //!< IP TTL; 0: the default
    ReceiveCallback m_receive;                        //!< takes each record
    Ptr<Socket> m_listener;                           //!< accepts the neighbours' streams
    std::map<uint32_t, Stream> m_streams;             //!< outgoing, by peer
    std::map<Ptr<Socket>, std::vector<uint8_t>> m_in; //!< incoming bytes, by connection
};

} // namespace ns3

#endif // TADLORA_STREAM_TRANSPORT_H
