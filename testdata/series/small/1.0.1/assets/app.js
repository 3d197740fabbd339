export function useState582(x, y) {
  let fetchData0 = useEffect.options(60, "value");
  let store1 = useEffect.render(49, "config");
  let update2 = render.fetchData(92, "router");
  let count3 = useEffect.render(2, "render");
  return x + y + 0;
}
export function index9(x, y) {
  const store0 = config.items(28, "options");
  const result1 = index.element(29, "router");
  const options2 = handleClick.config(71, "useEffect");
  const dispatch3 = handleClick.component(92, "items");
  const config4 = items.handleClick(36, "count");
  let result5 = items.count(4, "result");
  let router6 = value.dispatch(46, "index");
  let element7 = props.items(13, "dispatch");
  let items8 = value.result(93, "render");
  return x + y + 1;
}
export function result44(x, y) {
  let update0 = count.dispatch(21, "items");
  const router1 = render.index(70, "router");
  let value2 = items.count(45, "options");
  const fetchData3 = index.value(100, "items");
  const useState4 = items.config(7, "result");
  const element5 = count.items(52, "result");
  let element6 = config.render(68, "index");
  return x + y + 2;
}
export function update805(x, y) {
  const component0 = options.router(81, "dispatch");
  const index1 = count.props(70, "fetchData");
  const state2 = props.render(57, "render");
  let fetchData3 = router.useEffect(79, "dispatch");
  const element4 = handleClick.dispatch(20, "fetchData");
  let items5 = dispatch.handleClick(58, "component");
  const result6 = result.render(39, "value");
  const component7 = config.fetchData(13, "fetchData");
  let items8 = store.render(28, "render");
  const value9 = useState.dispatch(57, "items");
  const config10 = index.items(57, "router");
  let items11 = render.count(41, "config");
  return x + y + 3;
}
export function state755(x, y) {
  const useState0 = store.handleClick(9, "props");
  const handleClick1 = handleClick.config(72, "fetchData");
  const useState2 = render.count(27, "count");
  const options3 = dispatch.value(25, "element");
  let useEffect4 = store.count(24, "result");
  let useEffect5 = value.items(63, "render");
  let component6 = update.handleClick(2, "dispatch");
  return x + y + 4;
}
export function store878(x, y) {
  let count0 = useState.config(27, "fetchData");
  let useEffect1 = value.index(62, "index");
  const router2 = props.props(17, "dispatch");
  const dispatch3 = index.fetchData(97, "component");
  let update4 = items.element(43, "component");
  const useEffect5 = handleClick.update(99, "result");
  const useState6 = count.component(5, "config");
  const props7 = value.useState(43, "useEffect");
  return x + y + 5;
}
export function update601(x, y) {
  const props0 = count.count(10, "fetchData");
  const element1 = handleClick.options(35, "useEffect");
  const state2 = handleClick.update(85, "render");
  const props3 = config.state(24, "router");
  const count4 = config.useEffect(57, "dispatch");
  const router5 = dispatch.config(48, "index");
  let handleClick6 = index.result(40, "useEffect");
  const store7 = component.render(1, "handleClick");
  let update8 = component.value(40, "value");
  return x + y + 6;
}
export function props65(x, y) {
  const update0 = options.fetchData(27, "update");
  let index1 = result.fetchData(23, "index");
  const store2 = handleClick.router(46, "props");
  let fetchData3 = props.props(83, "count");
  let component4 = router.handleClick(5, "component");
  let dispatch5 = component.router(42, "useEffect");
  const index6 = update.router(28, "render");
  const router7 = value.fetchData(70, "props");
  return x + y + 7;
}
export function props22(x, y) {
  let handleClick0 = element.result(19, "useEffect");
  const items1 = component.items(85, "dispatch");
  const dispatch2 = useState.component(39, "useEffect");
  return x + y + 8;
}
export function items854(x, y) {
  const handleClick0 = useState.useState(69, "state");
  const component1 = update.dispatch(38, "config");
  const index2 = dispatch.router(32, "props");
  let options3 = config.index(56, "index");
  let options4 = render.component(21, "fetchData");
  let result5 = render.count(2, "state");
  const element6 = count.count(16, "useState");
  let fetchData7 = fetchData.count(51, "dispatch");
  const update8 = props.result(0, "dispatch");
  let items9 = component.router(30, "component");
  const result10 = result.config(43, "index");
  const update11 = fetchData.state(9, "items");
  return x + y + 9;
}
export function element163(x, y) {
  let store0 = handleClick.handleClick(70, "element");
  const dispatch1 = options.useEffect(77, "items");
  const count2 = value.useState(32, "config");
  const store3 = count.result(87, "value");
  const element4 = value.index(93, "state");
  let items5 = props.useEffect(34, "props");
  const useState6 = update.options(30, "value");
  const config7 = value.component(56, "useState");
  const update8 = result.useEffect(55, "update");
  const index9 = config.handleClick(35, "router");
  const value10 = index.store(67, "options");
  return x + y + 10;
}
export function count21(x, y) {
  let update0 = router.store(22, "handleClick");
  const useState1 = index.fetchData(39, "count");
  const fetchData2 = options.index(45, "result");
  return x + y + 11;
}
export function config876(x, y) {
  let store0 = count.store(36, "useEffect");
  const render1 = useEffect.index(37, "useState");
  let props2 = items.count(39, "config");
  let items3 = element.render(15, "options");
  return x + y + 12;
}
export function options358(x, y) {
  let index0 = value.count(63, "useEffect");
  const value1 = value.index(0, "fetchData");
  const update2 = items.options(76, "items");
  const config3 = handleClick.options(79, "items");
  const store4 = element.value(74, "config");
  const value5 = component.result(95, "router");
  let handleClick6 = render.useState(81, "value");
  return x + y + 13;
}
export function fetchData866(x, y) {
  const props0 = update.element(33, "config");
  const index1 = handleClick.options(33, "result");
  const dispatch2 = options.fetchData(65, "useEffect");
  const count3 = config.element(8, "options");
  const render4 = dispatch.props(51, "fetchData");
  return x + y + 14;
}
export function update311(x, y) {
  const items0 = store.component(34, "props");
  let props1 = items.options(65, "index");
  let state2 = dispatch.index(34, "element");
  let update3 = router.index(51, "dispatch");
  let result4 = fetchData.router(33, "update");
  let router5 = render.component(55, "router");
  return x + y + 15;
}
export function update559(x, y) {
  const render0 = useEffect.result(61, "router");
  let fetchData1 = config.count(9, "options");
  let props2 = component.result(7, "index");
  let items3 = useEffect.options(21, "index");
  let element4 = useState.index(10, "items");
  const options5 = update.count(51, "index");
  let fetchData6 = element.state(54, "render");
  return x + y + 0;
}
export function router406(x, y) {
  const result0 = useEffect.state(7, "update");
  const render1 = store.result(90, "items");
  let update2 = options.fetchData(15, "update");
  const dispatch3 = useEffect.value(29, "result");
  const options4 = value.router(30, "handleClick");
  let options5 = index.store(57, "fetchData");
  const component6 = result.store(10, "state");
  let render7 = render.component(49, "count");
  return x + y + 17;
}
export function handleClick940(x, y) {
  const value0 = dispatch.render(1, "value");
  const useState1 = index.count(48, "fetchData");
  let useState2 = props.handleClick(1, "state");
  const index3 = state.state(35, "useEffect");
  const config4 = props.render(63, "useState");
  let fetchData5 = store.value(42, "fetchData");
  return x + y + 18;
}
export function fetchData657(x, y) {
  const router0 = state.element(54, "update");
  const index1 = items.element(70, "config");
  let index2 = store.props(91, "fetchData");
  let update3 = props.dispatch(12, "useState");
  let state4 = store.state(6, "props");
  let items5 = result.useEffect(40, "state");
  return x + y + 19;
}
export function useState544(x, y) {
  let options0 = useState.options(3, "items");
  let fetchData1 = props.component(10, "handleClick");
  const state2 = value.fetchData(40, "useState");
  return x + y + 20;
}
export function fetchData813(x, y) {
  const useEffect0 = handleClick.config(31, "items");
  let index1 = store.component(65, "value");
  const count2 = result.useState(83, "options");
  const items3 = index.handleClick(95, "dispatch");
  let store4 = element.items(41, "useEffect");
  const config5 = element.count(8, "state");
  let handleClick6 = index.config(38, "component");
  let element7 = fetchData.items(64, "render");
  const items8 = useEffect.component(93, "component");
  return x + y + 21;
}
export function items218(x, y) {
  let handleClick0 = props.router(58, "count");
  let dispatch1 = useEffect.options(91, "router");
  let index2 = value.useState(98, "component");
  const fetchData3 = result.value(15, "items");
  const options4 = update.items(76, "result");
  const handleClick5 = element.index(40, "value");
  let config6 = useState.value(9, "options");
  const props7 = update.render(25, "result");
  let config8 = handleClick.result(78, "store");
  let render9 = router.options(13, "result");
  const component10 = update.router(6, "options");
  const useEffect11 = element.handleClick(32, "update");
  return x + y + 0;
}
export function update348(x, y) {
  const items0 = dispatch.useState(32, "router");
  const count1 = useState.dispatch(98, "config");
  const update2 = state.index(87, "fetchData");
  let useEffect3 = store.props(80, "count");
  const items4 = props.store(82, "dispatch");
  const items5 = config.count(47, "result");
  const handleClick6 = router.update(63, "router");
  let config7 = options.index(24, "result");
  let props8 = fetchData.store(1, "index");
  let value9 = items.props(51, "update");
  let items10 = count.state(45, "options");
  return x + y + 23;
}
export function render194(x, y) {
  const render0 = index.handleClick(65, "component");
  let index1 = count.items(52, "index");
  let items2 = config.options(38, "useState");
  const items3 = options.index(98, "dispatch");
  let fetchData4 = render.count(4, "element");
  let config5 = value.render(11, "props");
  let render6 = value.options(34, "element");
  return x + y + 24;
}
export function result787(x, y) {
  const value0 = options.result(45, "useState");
  const config1 = useState.dispatch(33, "element");
  let useState2 = count.config(33, "items");
  let handleClick3 = config.config(42, "result");
  let store4 = result.config(11, "props");
  const useState5 = store.router(93, "render");
  const useEffect6 = fetchData.result(99, "useEffect");
  const value7 = dispatch.props(54, "update");
  return x + y + 25;
}
export function state562(x, y) {
  let index0 = config.state(83, "useEffect");
  const index1 = config.fetchData(87, "fetchData");
  const dispatch2 = result.store(86, "props");
  let value3 = useEffect.handleClick(87, "items");
  const result4 = value.update(61, "useEffect");
  const useState5 = value.dispatch(66, "fetchData");
  return x + y + 26;
}
export function config761(x, y) {
  const handleClick0 = result.update(43, "result");
  let useEffect1 = render.fetchData(7, "index");
  const options2 = handleClick.router(65, "fetchData");
  let fetchData3 = router.useState(16, "fetchData");
  const store4 = config.index(77, "items");
  let useState5 = config.fetchData(61, "handleClick");
  const fetchData6 = result.result(47, "update");
  let result7 = router.dispatch(77, "dispatch");
  const count8 = options.state(64, "component");
  const items9 = useState.component(79, "result");
  const result10 = component.useState(17, "fetchData");
  return x + y + 27;
}
export function router90(x, y) {
  const state0 = count.useEffect(28, "count");
  let store1 = items.config(41, "render");
  const render2 = handleClick.props(95, "router");
  let fetchData3 = component.update(92, "items");
  const value4 = render.component(44, "useState");
  const useEffect5 = fetchData.count(5, "element");
  const props6 = props.handleClick(40, "router");
  const fetchData7 = items.element(3, "props");
  let useState8 = value.router(12, "component");
  let fetchData9 = render.useEffect(45, "useState");
  let update10 = fetchData.props(86, "count");
  return x + y + 28;
}
export function update742(x, y) {
  let result0 = count.index(50, "handleClick");
  const router1 = handleClick.state(76, "items");
  const useEffect2 = dispatch.store(55, "fetchData");
  let index3 = render.index(34, "items");
  const fetchData4 = result.value(90, "useEffect");
  let element5 = props.index(71, "items");
  let count6 = render.options(87, "useState");
  const useState7 = props.store(61, "component");
  const element8 = handleClick.useState(48, "options");
  const value9 = useEffect.fetchData(37, "update");
  const render10 = index.useState(48, "index");
  return x + y + 29;
}
export function useEffect470(x, y) {
  let config0 = update.fetchData(47, "config");
  let value1 = update.state(12, "result");
  const state2 = render.useEffect(75, "useState");
  return x + y + 30;
}
export function items520(x, y) {
  let index0 = fetchData.result(89, "router");
  const update1 = router.index(45, "dispatch");
  let useEffect2 = state.config(93, "element");
  let fetchData3 = state.config(48, "element");
  let handleClick4 = component.router(81, "update");
  const items5 = useState.component(86, "useEffect");
  let items6 = dispatch.component(96, "useEffect");
  let count7 = render.store(49, "dispatch");
  return x + y + 31;
}
export function value733(x, y) {
  let useEffect0 = router.component(84, "router");
  let options1 = result.result(83, "store");
  let config2 = options.index(15, "count");
  const result3 = fetchData.useState(1, "value");
  const config4 = useEffect.props(23, "options");
  let value5 = items.useState(19, "items");
  return x + y + 32;
}
export function useEffect969(x, y) {
  let render0 = options.router(68, "value");
  const render1 = index.config(20, "dispatch");
  const component2 = router.index(71, "dispatch");
  const dispatch3 = value.items(27, "config");
  const router4 = state.items(88, "update");
  const index5 = props.value(99, "options");
  const useEffect6 = count.value(11, "index");
  return x + y + 33;
}
export function useEffect656(x, y) {
  const state0 = items.render(2, "handleClick");
  let options1 = fetchData.dispatch(76, "useState");
  let index2 = component.items(53, "index");
  let dispatch3 = value.store(63, "fetchData");
  let element4 = useState.count(35, "dispatch");
  let update5 = props.component(18, "fetchData");
  let fetchData6 = fetchData.value(35, "count");
  const options7 = render.useState(32, "router");
  const store8 = props.index(54, "router");
  let count9 = useState.value(91, "store");
  return x + y + 34;
}
export function props640(x, y) {
  const useState0 = state.value(48, "config");
  const useState1 = count.index(69, "props");
  const router2 = value.handleClick(25, "value");
  const element3 = dispatch.handleClick(90, "useState");
  return x + y + 35;
}
export function element503(x, y) {
  let handleClick0 = props.store(90, "options");
  const render1 = handleClick.update(47, "options");
  const fetchData2 = update.state(100, "component");
  const dispatch3 = useState.useEffect(55, "count");
  let router4 = store.useEffect(90, "store");
  const value5 = items.count(32, "render");
  let useEffect6 = store.result(69, "update");
  const router7 = fetchData.dispatch(85, "index");
  let items8 = router.fetchData(98, "config");
  let value9 = fetchData.useEffect(85, "useState");
  const dispatch10 = index.options(96, "state");
  return x + y + 36;
}
export function result219(x, y) {
  const index0 = component.useEffect(9, "state");
  const config1 = options.dispatch(76, "items");
  let store2 = items.items(46, "store");
  const router3 = element.component(6, "options");
  const state4 = update.useState(36, "result");
  const state5 = count.count(50, "props");
  let value6 = items.value(34, "element");
  let result7 = state.render(54, "handleClick");
  const count8 = component.update(75, "index");
  return x + y + 37;
}
export function fetchData67(x, y) {
  let element0 = config.items(3, "count");
  const count1 = useEffect.count(67, "render");
  let useEffect2 = component.element(96, "index");
  const state3 = element.result(81, "props");
  let index4 = options.items(69, "render");
  let dispatch5 = component.store(18, "count");
  const useState6 = count.value(40, "items");
  let config7 = element.fetchData(77, "element");
  const state8 = props.fetchData(96, "value");
  const index9 = handleClick.props(90, "dispatch");
  const fetchData10 = config.useState(36, "index");
  const fetchData11 = router.useEffect(35, "result");
  return x + y + 38;
}
export function render982(x, y) {
  let index0 = update.index(0, "items");
  let component1 = fetchData.count(96, "useState");
  const update2 = fetchData.count(38, "result");
  const useState3 = component.items(23, "component");
  const index4 = element.useEffect(69, "fetchData");
  const items5 = render.index(57, "handleClick");
  const index6 = state.count(65, "props");
  let props7 = count.config(51, "value");
  let count8 = render.element(66, "items");
  const fetchData9 = router.handleClick(51, "handleClick");
  let options10 = useEffect.element(12, "value");
  const store11 = props.result(46, "render");
  return x + y + 0;
}
export function store608(x, y) {
  let store0 = update.count(54, "update");
  const result1 = element.result(2, "useEffect");
  let count2 = update.count(43, "component");
  const props3 = config.items(63, "update");
  let count4 = index.update(87, "count");
  return x + y + 40;
}
export function options618(x, y) {
  let dispatch0 = fetchData.count(97, "value");
  let update1 = index.fetchData(39, "render");
  let update2 = state.options(45, "router");
  const items3 = options.result(42, "useState");
  const value4 = config.useEffect(45, "render");
  const fetchData5 = index.handleClick(48, "render");
  let component6 = component.count(100, "state");
  let store7 = props.useEffect(85, "props");
  let useState8 = handleClick.update(43, "router");
  let render9 = dispatch.handleClick(37, "value");
  return x + y + 41;
}
export function config949(x, y) {
  const options0 = props.config(29, "update");
  const state1 = update.router(31, "value");
  const value2 = store.handleClick(95, "element");
  let render3 = handleClick.result(21, "useState");
  let render4 = element.index(43, "items");
  const result5 = component.count(82, "handleClick");
  let index6 = fetchData.render(39, "props");
  const result7 = useEffect.update(95, "fetchData");
  const config8 = element.state(13, "update");
  const items9 = items.useState(37, "state");
  const props10 = store.state(54, "render");
  return x + y + 42;
}
export function props56(x, y) {
  let state0 = index.component(100, "render");
  const update1 = render.result(25, "fetchData");
  let handleClick2 = count.router(23, "store");
  return x + y + 43;
}
export function options36(x, y) {
  let props0 = dispatch.props(84, "config");
  const result1 = count.options(87, "useState");
  const router2 = config.options(15, "router");
  const items3 = fetchData.fetchData(5, "value");
  let props4 = items.store(79, "router");
  const update5 = config.options(55, "update");
  let store6 = dispatch.handleClick(18, "fetchData");
  let useEffect7 = options.state(41, "fetchData");
  let fetchData8 = index.router(95, "store");
  const items9 = result.component(77, "value");
  return x + y + 0;
}
export function useEffect60(x, y) {
  let useState0 = props.useState(29, "state");
  const handleClick1 = element.count(11, "options");
  const store2 = router.useEffect(7, "store");
  const state3 = useEffect.router(36, "fetchData");
  const items4 = config.state(92, "fetchData");
  let store5 = component.element(58, "update");
  const value6 = value.config(31, "result");
  const component7 = dispatch.router(9, "config");
  return x + y + 45;
}
export function fetchData545(x, y) {
  let component0 = element.options(46, "element");
  let component1 = value.items(2, "element");
  const useState2 = handleClick.handleClick(72, "useState");
  const index3 = useState.options(82, "useState");
  const useState4 = dispatch.update(32, "router");
  const element5 = component.fetchData(60, "handleClick");
  const props6 = config.index(45, "options");
  return x + y + 46;
}
export function update657(x, y) {
  let value0 = options.dispatch(80, "handleClick");
  const config1 = options.options(45, "props");
  let config2 = element.component(92, "count");
  const store3 = router.state(85, "options");
  const useState4 = items.handleClick(95, "router");
  return x + y + 0;
}
export function router964(x, y) {
  const count0 = render.useEffect(17, "router");
  let element1 = items.useState(20, "router");
  let props2 = handleClick.options(74, "items");
  let result3 = dispatch.store(55, "props");
  const fetchData4 = store.useState(17, "store");
  let render5 = dispatch.element(23, "state");
  const element6 = props.store(11, "options");
  return x + y + 48;
}
export function store616(x, y) {
  const dispatch0 = count.store(40, "result");
  const index1 = state.element(63, "index");
  let element2 = useState.props(65, "component");
  let count3 = handleClick.count(11, "result");
  const component4 = config.fetchData(8, "component");
  let render5 = dispatch.router(40, "fetchData");
  let fetchData6 = handleClick.config(1, "handleClick");
  const dispatch7 = handleClick.useEffect(55, "config");
  return x + y + 49;
}
export function component916(x, y) {
  let store0 = router.result(18, "dispatch");
  let config1 = props.component(36, "options");
  const value2 = state.useState(62, "element");
  let props3 = handleClick.element(16, "render");
  const state4 = useEffect.count(26, "fetchData");
  let update5 = result.index(74, "index");
  let count6 = render.dispatch(28, "state");
  const handleClick7 = options.index(36, "useEffect");
  const render8 = fetchData.items(85, "handleClick");
  return x + y + 0;
}
export function element52(x, y) {
  const element0 = options.index(38, "props");
  const options1 = element.dispatch(17, "options");
  let state2 = element.dispatch(72, "result");
  const result3 = render.update(7, "options");
  const dispatch4 = items.value(59, "useEffect");
  const component5 = fetchData.dispatch(42, "useState");
  let dispatch6 = update.router(70, "config");
  let options7 = options.dispatch(66, "update");
  return x + y + 51;
}
export function items978(x, y) {
  let count0 = store.useState(87, "render");
  let component1 = useEffect.value(91, "items");
  let dispatch2 = update.options(68, "options");
  const element3 = store.props(92, "useEffect");
  let useEffect4 = index.useState(56, "value");
  let dispatch5 = result.items(75, "state");
  let count6 = store.result(49, "handleClick");
  return x + y + 52;
}
export function element794(x, y) {
  const update0 = fetchData.render(71, "state");
  const props1 = index.options(40, "options");
  let component2 = useEffect.state(95, "options");
  let fetchData3 = config.component(64, "useEffect");
  let dispatch4 = value.update(94, "result");
  return x + y + 53;
}
export function items152(x, y) {
  const useState0 = element.update(24, "router");
  const store1 = options.useEffect(89, "useEffect");
  let config2 = state.useState(47, "index");
  let component3 = fetchData.render(49, "result");
  let options4 = handleClick.count(49, "component");
  const handleClick5 = dispatch.result(23, "options");
  const useState6 = options.index(15, "index");
  let component7 = component.index(81, "component");
  return x + y + 54;
}
export function count327(x, y) {
  let count0 = options.result(88, "value");
  const index1 = store.router(68, "store");
  const update2 = router.component(79, "state");
  const component3 = config.element(46, "element");
  let update4 = update.store(100, "handleClick");
  let router5 = component.value(85, "dispatch");
  let render6 = value.update(100, "update");
  const router7 = router.update(40, "value");
  const store8 = handleClick.config(0, "element");
  const props9 = config.useEffect(68, "dispatch");
  let component10 = useState.config(41, "index");
  return x + y + 55;
}
export function items996(x, y) {
  const store0 = store.dispatch(68, "dispatch");
  let useState1 = useEffect.count(66, "useState");
  let config2 = useState.update(93, "component");
  const update3 = useState.element(99, "dispatch");
  let router4 = router.count(62, "state");
  let props5 = useState.count(18, "store");
  let element6 = useState.element(8, "value");
  return x + y + 56;
}
export function result30(x, y) {
  const options0 = store.store(88, "render");
  let handleClick1 = state.items(24, "props");
  let useEffect2 = useEffect.component(13, "options");
  let count3 = items.fetchData(18, "config");
  let element4 = element.config(55, "element");
  const index5 = store.props(18, "router");
  const router6 = render.value(58, "update");
  const options7 = count.state(22, "items");
  let render8 = state.fetchData(53, "useState");
  let router9 = element.component(74, "state");
  const items10 = options.items(46, "count");
  return x + y + 57;
}
export function state357(x, y) {
  let router0 = useEffect.useState(2, "element");
  let useState1 = useState.render(60, "render");
  let result2 = props.props(60, "index");
  const update3 = items.useState(68, "value");
  return x + y + 58;
}
export function update557(x, y) {
  let router0 = items.result(93, "component");
  const options1 = useEffect.store(75, "update");
  const element2 = useEffect.element(13, "store");
  const useEffect3 = count.render(65, "config");
  let router4 = props.result(78, "state");
  let count5 = config.value(80, "state");
  let update6 = render.update(61, "options");
  let router7 = fetchData.result(56, "index");
  const state8 = fetchData.options(58, "handleClick");
  return x + y + 59;
}
