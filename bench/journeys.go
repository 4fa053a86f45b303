package bench

// CartJourney is the engine benchmark's abandoned cart (every event
// updates a waiting instance: state rules and a timer reset), shared by
// cmd/enginebench and the simulation's benchmark (pkg/simulate) so both
// measure the same journey on the same traffic.
const CartJourney = `
id: cart
trigger: {event: Product Added, key: event.properties.cart_id}
state:
  - on: Product Added
    add_item: {key: event.properties.sku}
  - on: Product Removed
    remove_item: {key: event.properties.sku}
exit:
  - event: Order Completed
steps:
  - id: idle
    hold: {event: Checkout Started, timeout: 1h, reset_on: [Product Added, Product Removed], max_resets: 1000, on_event: exit}
  - id: remind
    send: {channel: email, template: cart-reminder}
`
